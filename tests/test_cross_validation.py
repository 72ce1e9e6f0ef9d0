"""The pieces of k-fold cross-validation in common.cross_validation: a model reset between folds, fold summaries,
baselines and the number of folds a small class allows."""

import numpy as np
import pytest

from common.cross_validation import ResettableModel, baseline_scores, fold_count, summarise_folds
from common.datasets.files import DataError
from common.evaluate import evaluate_predictions
from common.reproducibility import set_seed
from common.tf_setup import import_tensorflow_quietly

tf = import_tensorflow_quietly()
import keras  # noqa: E402


def _build():
    inputs = keras.Input((6,))
    hidden = keras.layers.Dropout(0.5)(keras.layers.Dense(16, activation="relu")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(hidden))
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    return model


def test_a_reset_model_trains_a_fold_as_a_fresh_one_would():
    """Dropout draws from a seed generator whose state get_weights leaves out; after reset() a fold must train as
    it would first in a new process, or a resumed cross-validation that skips finished folds changes its numbers."""
    x = np.random.default_rng(0).normal(size=(64, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    set_seed(3)
    fresh = ResettableModel(_build, tf.distribute.get_strategy())
    fresh.reset().fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    expected = [weights.copy() for weights in fresh.model.get_weights()]
    set_seed(3)
    reused = ResettableModel(_build, tf.distribute.get_strategy())
    reused.reset().fit(x[::-1], 1 - y[::-1], epochs=3, batch_size=16, shuffle=False, verbose=0)  # another fold
    reused.reset().fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    for got, wanted in zip(reused.model.get_weights(), expected):
        np.testing.assert_array_equal(got, wanted)


def test_fold_summary_baselines_and_fold_count(capsys):
    labels = np.array([0, 0, 1, 1, 2, 2])
    scores = np.eye(3)[labels] * 0.8 + 0.1
    folds = [evaluate_predictions(labels, scores, "multi-class"), evaluate_predictions(labels, scores[::-1],
                                                                                      "multi-class")]
    summary = summarise_folds(folds, ["0", "1", "2"])
    assert summary["folds_run"] == 2 and summary["accuracy_folds"] == [1.0, folds[1]["accuracy"]]
    assert summary["accuracy_sd"] == pytest.approx(np.std([1.0, folds[1]["accuracy"]], ddof=1))
    assert np.sum(summary["confusion_matrix"]) == 12
    majority = baseline_scores("majority_baseline", np.array([0, 0, 0, 1]), 3, 2, seed=0)
    assert majority.tolist() == [[0.75, 0.25]] * 3
    chance = baseline_scores("chance_baseline", labels, 4, 3, seed=1)
    assert np.allclose(chance.sum(axis=1), 1.0) and chance.shape == (4, 3)
    assert fold_count(5, np.repeat([0, 1], [9, 3]), ["a", "b"]) == 3
    assert "fewer than --folds 5" in capsys.readouterr().err
    with pytest.raises(DataError, match="'b' has 1 training case"):
        fold_count(3, np.repeat([0, 1], [9, 1]), ["a", "b"])
