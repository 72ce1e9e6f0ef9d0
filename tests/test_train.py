"""The trainer on a trivially separable toy problem: learning, checkpoints, history, resume, strategies."""

import json

import keras
import numpy as np
import pytest

from common.reproducibility import set_seed
from common.strategy import get_strategy
from common.train import fit_model, read_history


def _toy_data(n=256, seed=0):
    """Two classes told apart by the sign of the first feature."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    return x, y


def _build():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    outputs = keras.layers.Dense(2, activation="softmax", dtype="float32")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


class StopAfter(keras.callbacks.Callback):
    """Simulates an interrupted run: raises after a given epoch has been saved."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise KeyboardInterrupt


def test_learns_a_separable_toy_set_and_writes_its_folder(tmp_path):
    set_seed(0)
    x, y = _toy_data()
    result = fit_model(_build, (x[:200], y[:200]), (x[200:], y[200:]), tmp_path / "toy", epochs=15,
                       batch_size=32, monitor="val_accuracy", patience=15, verbose=0)
    assert result.best_value >= 0.95
    assert (result.model.predict(x[200:], verbose=0).argmax(1) == y[200:]).mean() == pytest.approx(
        result.best_value, abs=1e-6), "the returned model must carry the best epoch's weights"
    assert {p.name for p in (tmp_path / "toy").iterdir()} == {"best.keras", "history.csv", "done.json"}
    history = read_history(tmp_path / "toy" / "history.csv")
    assert len(history["val_accuracy"]) == result.epochs_run == 15
    assert result.train_seconds > 0 and result.best_epoch == int(np.argmax(history["val_accuracy"])) + 1
    assert json.loads((tmp_path / "toy" / "done.json").read_text())["best_epoch"] == result.best_epoch


def test_early_stopping_ends_training(tmp_path):
    set_seed(0)
    x, y = _toy_data()
    result = fit_model(_build, (x[:200], y[:200]), (x[200:], y[200:]), tmp_path / "toy", epochs=200,
                       batch_size=32, monitor="val_loss", patience=3, verbose=0)
    assert result.epochs_run < 200


def test_an_interrupted_fit_is_trained_again_and_a_finished_one_reloaded(tmp_path):
    """A fit that was interrupted is trained again from its first epoch, so that the resumed run equals an
    uninterrupted one; a finished fit is reloaded, never trained twice; nothing is appended twice."""
    x, y = _toy_data()
    data = ((x[:200], y[:200]), (x[200:], y[200:]))
    common = {"epochs": 8, "batch_size": 32, "patience": 50, "verbose": 0, "seed": 5}
    uninterrupted = fit_model(_build, *data, tmp_path / "whole" / "toy", **common)

    folder = tmp_path / "interrupted" / "toy"
    with pytest.raises(KeyboardInterrupt):
        fit_model(_build, *data, folder, callbacks=[StopAfter(3)], **common)
    assert not folder.exists(), "an unfinished fit leaves no model folder"
    scratch = folder.with_name("toy.training")
    assert len(read_history(scratch / "history.csv")["loss"]) == 3
    with pytest.raises(FileExistsError, match="--resume"):
        fit_model(_build, *data, folder, **common)
    resumed = fit_model(_build, *data, folder, resume=True, **common)
    assert not scratch.exists() and sorted(path.name for path in folder.iterdir()) == [
        "best.keras", "done.json", "history.csv"]
    assert resumed.epochs_run == 8 and read_history(folder / "history.csv")["loss"] == uninterrupted.history["loss"]
    np.testing.assert_array_equal(resumed.model.predict(x, verbose=0), uninterrupted.model.predict(x, verbose=0))
    assert json.loads((folder / "done.json").read_text())["epochs_run"] == 8

    checkpoint = (folder / "best.keras").stat().st_mtime_ns
    again = fit_model(_build, *data, folder, resume=True, **common)
    assert again.resumed and again.epochs_run == 8 and (folder / "best.keras").stat().st_mtime_ns == checkpoint
    np.testing.assert_allclose(again.model.predict(x, verbose=0), resumed.model.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(FileExistsError, match="finished training"):
        fit_model(_build, *data, folder, **common)


def test_validation_data_is_required(tmp_path):
    x, y = _toy_data()
    with pytest.raises(ValueError, match="never from the test split"):
        fit_model(_build, (x, y), None, tmp_path / "toy", epochs=1, batch_size=32)


def test_same_seed_gives_the_same_training(tmp_path):
    x, y = _toy_data()
    values = []
    for attempt in range(2):
        set_seed(7)
        result = fit_model(_build, (x[:200], y[:200]), (x[200:], y[200:]), tmp_path / f"run{attempt}",
                           epochs=3, batch_size=32, verbose=0)
        values.append(result.history["val_loss"])
    assert values[0] == values[1]


def test_mirrored_strategy_and_mixed_precision_train_on_cpu(tmp_path):
    from common.precision import use_precision

    x, y = _toy_data()
    use_precision("float16")
    try:
        result = fit_model(_build, (x[:200], y[:200]), (x[200:], y[200:]), tmp_path / "mirrored", epochs=2,
                           batch_size=32, strategy=get_strategy("mirrored"), verbose=0)
        # Trained in float16, returned (and saved) computing in float32.
        assert result.precision["precision"] == "float16"
        assert json.loads((result.folder / "done.json").read_text())["precision"]["precision"] == "float16"
        assert result.model.layers[1].compute_dtype == "float32"
        assert result.model.output.dtype == "float32"
    finally:
        use_precision("float32")
    with pytest.raises(ValueError, match="Unknown strategy"):
        get_strategy("tpu-pod")


def test_batch_norm_recalibration_matches_the_clean_data_statistics():
    from common.train import recalibrate_batch_norm

    set_seed(0)
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(6, name="recalibration_dense")(inputs)
    normalised = keras.layers.BatchNormalization(name="bn")(hidden)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.BatchNormalization(name="bn2")(normalised))
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(1).normal(3.0, 2.0, size=(300, 4)).astype("float32")
    assert recalibrate_batch_norm(model, x, batch_size=64) == 2
    dense_out = keras.Model(inputs, hidden).predict(x, verbose=0)
    np.testing.assert_allclose(model.get_layer("bn").moving_mean.numpy(), dense_out.mean(axis=0), rtol=1e-4)
    np.testing.assert_allclose(model.get_layer("bn").moving_variance.numpy(), dense_out.var(axis=0), rtol=1e-3)
    # The second layer sees the output of the recalibrated first one: about zero mean, unit variance.
    np.testing.assert_allclose(model.get_layer("bn2").moving_mean.numpy(), 0.0, atol=1e-3)
    np.testing.assert_allclose(model.get_layer("bn2").moving_variance.numpy(), 1.0, rtol=1e-2)
