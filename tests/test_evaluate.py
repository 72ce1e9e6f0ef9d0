"""The evaluator against scikit-learn on the same scores, for every task type."""

import numpy as np
import pytest
from sklearn import metrics as skm

from common.evaluate import binary_auc, evaluate_predictions
from common.plots import roc_curve_points

rng = np.random.default_rng(0)


def _probabilities(n, c):
    logits = rng.normal(size=(n, c))
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def test_multiclass_agrees_with_sklearn():
    y_true = rng.integers(0, 5, 300)
    y_score = _probabilities(300, 5)
    y_score[np.arange(150), y_true[:150]] += 1.0  # make it better than chance
    y_score /= y_score.sum(axis=1, keepdims=True)
    result = evaluate_predictions(y_true, y_score, "multi-class", list("abcde"))
    y_pred = y_score.argmax(axis=1)
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert result["auc"] == pytest.approx(skm.roc_auc_score(y_true, y_score, multi_class="ovr", average="macro"))
    assert result["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))
    assert result["macro_f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"))
    precision, recall, f1, support = skm.precision_recall_fscore_support(y_true, y_pred)
    for k, name in enumerate("abcde"):
        assert result["per_class"][name]["precision"] == pytest.approx(precision[k])
        assert result["per_class"][name]["recall"] == pytest.approx(recall[k])
        assert result["per_class"][name]["f1"] == pytest.approx(f1[k])
        assert result["per_class"][name]["support"] == support[k]
    assert result["confusion_matrix"] == skm.confusion_matrix(y_true, y_pred).tolist()


def test_ordinal_is_scored_as_multiclass():
    y_true = rng.integers(0, 5, 100)
    y_score = _probabilities(100, 5)
    ordinal = evaluate_predictions(y_true, y_score, "ordinal")
    multiclass = evaluate_predictions(y_true, y_score, "multi-class")
    assert ordinal["accuracy"] == multiclass["accuracy"] and ordinal["auc"] == multiclass["auc"]


@pytest.mark.parametrize("shape", ["flat", "column", "two"])
def test_binary_accepts_every_score_layout(shape):
    y_true = rng.integers(0, 2, 200)
    positive = np.clip(y_true * 0.3 + rng.random(200) * 0.7, 0, 1)
    score = {"flat": positive, "column": positive[:, None], "two": np.stack([1 - positive, positive], 1)}[shape]
    result = evaluate_predictions(y_true, score, "binary", ["normal", "tumour"])
    assert result["auc"] == pytest.approx(skm.roc_auc_score(y_true, positive))
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(y_true, positive >= 0.5))


def test_multilabel_follows_the_medmnist_convention():
    y_true = rng.integers(0, 2, (250, 6))
    y_score = np.clip(y_true * 0.2 + rng.random((250, 6)) * 0.8, 0, 1)
    result = evaluate_predictions(y_true, y_score, "multi-label")
    expected_auc = np.mean([skm.roc_auc_score(y_true[:, k], y_score[:, k]) for k in range(6)])
    expected_accuracy = np.mean([skm.accuracy_score(y_true[:, k], y_score[:, k] >= 0.5) for k in range(6)])
    assert result["auc"] == pytest.approx(expected_auc)
    assert result["accuracy"] == pytest.approx(expected_accuracy)


def test_ties_and_a_class_without_examples():
    assert binary_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == pytest.approx(0.5)
    y_true = np.array([0, 0, 1, 1, 0, 1])
    y_score = _probabilities(6, 3)  # class 2 never occurs: its AUC is undefined
    result = evaluate_predictions(y_true, y_score, "multi-class")
    assert result["auc_undefined_for"] == ["2"]
    defined = [skm.roc_auc_score(y_true == k, y_score[:, k]) for k in (0, 1)]
    assert result["auc"] == pytest.approx(np.mean(defined))


def test_bad_shapes_raise_clear_errors():
    with pytest.raises(ValueError, match="task must be one of"):
        evaluate_predictions([0, 1], [0.1, 0.9], "regression")
    with pytest.raises(ValueError, match="one-hot"):
        evaluate_predictions(np.eye(3), _probabilities(3, 3), "multi-class")
    with pytest.raises(ValueError, match="labels must lie"):
        evaluate_predictions([0, 5], _probabilities(2, 3), "multi-class")
    with pytest.raises(ValueError, match="class names"):
        evaluate_predictions([0, 1], _probabilities(2, 2), "multi-class", ["only one"])


def test_roc_points_match_sklearn():
    y_true = rng.integers(0, 2, 80)
    y_score = np.round(rng.random(80), 2)
    fpr, tpr = roc_curve_points(y_true, y_score)
    expected_fpr, expected_tpr, _ = skm.roc_curve(y_true, y_score, drop_intermediate=False)
    np.testing.assert_allclose(fpr, expected_fpr)
    np.testing.assert_allclose(tpr, expected_tpr)
    assert np.trapezoid(tpr, fpr) == pytest.approx(skm.roc_auc_score(y_true, y_score))
