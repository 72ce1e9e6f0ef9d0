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


def _fixed_cases():
    """Seeded inputs with ties, an absent class and an all-negative label, one per task."""
    rng = np.random.default_rng(2026)

    def probabilities(n, c):
        logits = np.exp(rng.normal(size=(n, c)))
        return logits / logits.sum(axis=1, keepdims=True)

    y = rng.integers(0, 4, 120)
    scores = probabilities(120, 4)
    scores[np.arange(60), y[:60]] += 0.8
    scores = np.round(scores / scores.sum(axis=1, keepdims=True), 2)
    binary = rng.integers(0, 2, 90)
    binary_scores = np.round(np.clip(0.3 * binary + 0.7 * rng.random(90), 0, 1), 2)
    ordinal = np.array([0, 0, 1, 1, 3, 3, 0, 1])
    ordinal_scores = probabilities(8, 4)
    labels = rng.integers(0, 2, (70, 5))
    labels[:, 4] = 0
    label_scores = np.round(np.clip(0.25 * labels + 0.75 * rng.random((70, 5)), 0, 1), 2)
    return {"multi-class": (y, scores), "binary": (binary, binary_scores), "ordinal": (ordinal, ordinal_scores),
            "multi-label": (labels, label_scores)}


# What the suite's own Mann-Whitney evaluator gave on these inputs before it became a wrapper over scikit-learn
# (accuracy, AUC, balanced accuracy, macro F1, classes without an AUC).
BEFORE_SCIKIT_LEARN = {
    "multi-class": (0.6166666666666667, 0.7406986255835367, 0.6117408906882591, 0.6139132553606238, []),
    "binary": (0.7444444444444445, 0.8968253968253969, 0.7395833333333333, 0.7405689936082215, []),
    "ordinal": (0.25, 0.6, 0.27777777777777773, 0.18333333333333335, ["2"]),
    "multi-label": (0.6457142857142857, 0.7926089149000772, 0.5821636125044847, 0.530683735378571, ["4"]),
}


@pytest.mark.parametrize("task", list(BEFORE_SCIKIT_LEARN))
def test_numbers_are_those_of_the_earlier_evaluator(task):
    y_true, y_score = _fixed_cases()[task]
    result = evaluate_predictions(y_true, y_score, task)
    accuracy, auc, balanced, macro_f1, undefined = BEFORE_SCIKIT_LEARN[task]
    assert (result["accuracy"], result["auc"], result["balanced_accuracy"], result["macro_f1"]) == pytest.approx(
        (accuracy, auc, balanced, macro_f1), abs=1e-12)
    assert result["auc_undefined_for"] == undefined


def test_macro_roc_curve_has_the_area_of_the_macro_auc():
    """The curve a multi-class ROC figure draws has the area its legend gives: the evaluator's macro AUC."""
    from common.plots import _one_vs_rest, macro_roc_curve

    y_true, y_score = _fixed_cases()["multi-class"]
    curves = [roc_curve_points(truth, score) for _, truth, score in _one_vs_rest(y_true, y_score, "multi-class",
                                                                                 list("abcd"))]
    fpr, tpr = macro_roc_curve(curves)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= -1e-12) and tpr[-1] == pytest.approx(1.0)
    macro = evaluate_predictions(y_true, y_score, "multi-class")["auc"]
    assert np.trapezoid(tpr, fpr) == pytest.approx(macro, abs=1e-12)
    labels, label_scores = _fixed_cases()["multi-label"]
    curves = [roc_curve_points(truth, score) for _, truth, score in _one_vs_rest(labels, label_scores, "multi-label",
                                                                                 list("vwxyz"))]
    fpr, tpr = macro_roc_curve(curves)
    assert np.trapezoid(tpr, fpr) == pytest.approx(evaluate_predictions(labels, label_scores, "multi-label")["auc"],
                                                   abs=1e-12)
