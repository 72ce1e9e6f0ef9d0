"""The trainer: ``model.fit`` with early stopping, best checkpoints, a CSV history and resumable runs.

``fit_model`` trains one model into its own folder inside a run folder::

    <run>/<model_name>/best.keras     the weights of the best validation epoch (the model the run reports)
    <run>/<model_name>/history.csv    one row per epoch, including the seconds each epoch took
    <run>/<model_name>/backup/        Keras BackupAndRestore state while training is in progress
    <run>/<model_name>/done.json      written last: the training finished

With ``resume=True`` a model whose ``done.json`` exists is loaded instead of trained again, and one whose
training was interrupted continues from its last completed epoch (``keras.callbacks.BackupAndRestore``).

Early stopping and checkpoint selection watch a validation metric, so the validation data must be given
explicitly and must not be the test split: the test split is for the one final evaluation.
"""

import dataclasses
import math
import time
import warnings
from pathlib import Path

import numpy as np

from common.atomic import save_model, write_json
from common.evaluate import evaluate_predictions
from common.tf_setup import import_tensorflow_quietly

tf = import_tensorflow_quietly()
import keras  # noqa: E402  (TensorFlow must be imported first, quietly)


def get_strategy(name="default"):
    """The ``tf.distribute`` strategy for ``--strategy``: default, mirrored or multi-worker.

    "mirrored" copies the model to every local GPU and splits each batch between them; "multi-worker"
    does the same across machines listed in the ``TF_CONFIG`` environment variable.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"Unknown strategy {name!r}; use default, mirrored or multi-worker.")


def set_mixed_precision(enabled):
    """Compute in float16 with float32 variables (``mixed_float16``) or in plain float32.

    Models built afterwards pick the policy up; their output layers keep ``dtype="float32"`` so that
    probabilities and losses stay in float32.
    """
    keras.mixed_precision.set_dtype_policy("mixed_float16" if enabled else "float32")


class EpochTimer(keras.callbacks.Callback):
    """Adds ``epoch_seconds`` to each epoch's logs, so the CSV history records training time."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


class ValidationAUC(keras.callbacks.Callback):
    """Logs ``val_auc`` after every epoch: the suite's evaluator (``common.evaluate``) on the validation split.

    Keras's own ``AUC`` metric approximates the curve with 200 thresholds and, unless told otherwise, pools the
    columns of one-hot labels into one curve; its numbers differ from the exact per-class AUC the tables report
    (by up to a third on a small validation split). With this callback the learning curves, the checkpoint
    choice, early stopping and the tables use one definition. It must come before the callbacks that read
    ``val_auc`` (``fit_model`` puts it right after the epoch timer).

    Args:
        x: validation inputs (arrays). labels: their labels as the evaluator takes them for ``task``: class
            indices (N,) (one-hot rows are turned into indices), or 0/1 rows (N, L) for "multi-label".
    """

    def __init__(self, x, labels, task, batch_size=256):
        super().__init__()
        labels = np.asarray(labels)
        if task != "multi-label" and labels.ndim == 2 and labels.shape[1] > 1:
            labels = labels.argmax(axis=1)
        self.x, self.labels, self.task, self.batch_size = x, labels, task, batch_size

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            auc = evaluate_predictions(self.labels, predict_scores(self.model, self.x, self.batch_size),
                                       self.task)["auc"]
            logs["val_auc"] = float("nan") if auc is None else auc


@dataclasses.dataclass
class FitResult:
    """A trained model (with its best-epoch weights) and how training went."""

    model: keras.Model
    history: dict  # metric name -> list of per-epoch values, including "epoch_seconds"
    best_epoch: int  # 1-based
    best_value: float  # the monitored metric at the best epoch
    train_seconds: float  # the sum of epoch times, across resumed sessions
    folder: Path
    resumed: bool

    @property
    def epochs_run(self):
        return len(next(iter(self.history.values()), []))


def read_history(path):
    """Read a CSVLogger history file into {column: [float, ...]}."""
    import csv

    history = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            for key, value in row.items():
                if key == "epoch":
                    continue
                history.setdefault(key, []).append(float(value) if value not in ("", None) else float("nan"))
    return history


def _load_best_weights(model, path):
    """Load the weights of a ``.keras`` checkpoint into ``model``, ignoring its saved optimizer state."""
    with warnings.catch_warnings():
        # The checkpoint holds the optimizer's slots too; only the weights are wanted here, so Keras's
        # "Skipping variable loading for optimizer" notice is expected and not shown.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(path)


def _best(history, monitor, mode):
    values = history.get(monitor, [])
    if not values:
        return 0, float("nan")
    pick = max if mode == "max" else min
    best_value = pick(values)
    return values.index(best_value) + 1, best_value


def _monitor_mode(monitor, mode):
    if mode != "auto":
        return mode
    return "max" if any(word in monitor for word in ("acc", "auc", "precision", "recall", "f1")) else "min"


def fit_model(build_model, train_data, validation_data, folder, *, epochs, batch_size=None,
              monitor="val_loss", mode="auto", patience=10, strategy=None, resume=False, verbose=2,
              reduce_lr_patience=None, class_weight=None, callbacks=(), task=None):
    """Build, train and return a model, keeping the weights of its best validation epoch.

    Args:
        build_model: a function with no arguments returning a *compiled* ``keras.Model``; it is called
            inside ``strategy.scope()`` so that the variables are placed by the strategy.
        train_data: ``(x, y)`` arrays or a batched ``tf.data.Dataset`` of (x, y).
        validation_data: ``(x, y)`` arrays or a batched dataset; never the test split.
        folder: where this model's checkpoint and history go (created; must be new unless resuming).
        epochs: the maximum number of epochs; early stopping usually ends sooner.
        batch_size: the batch size when ``train_data`` holds arrays.
        monitor, mode: the validation metric that picks the best epoch and stops training ("auto" maximises
            accuracy / AUC-like names and minimises the rest).
        patience: epochs without improvement before stopping.
        reduce_lr_patience: if set, halve the learning rate after this many epochs without improvement
            (set it below ``patience`` so that the smaller rate gets a chance before training stops).
        strategy: a ``tf.distribute.Strategy`` (default: the current one).
        resume: continue or reload an earlier, interrupted training in ``folder``.
        task: the evaluator's task ("binary", "multi-class", "ordinal", "multi-label"); given, the exact
            validation AUC is logged every epoch as ``val_auc`` (``ValidationAUC``), and ``monitor="val_auc"``
            needs it. The validation data must then be arrays.

    Returns:
        A ``FitResult``.
    """
    if validation_data is None:
        raise ValueError("fit_model needs validation_data for early stopping and checkpoint selection; "
                         "carve it from the training split, never from the test split.")
    if monitor == "val_auc" and task is None:
        raise ValueError("monitor='val_auc' needs task=... so that the exact validation AUC is computed (Keras's "
                         "approximate AUC metric is not used; see ValidationAUC).")
    folder = Path(folder)
    mode = _monitor_mode(monitor, mode)
    best_path = folder / "best.keras"
    history_path = folder / "history.csv"
    done_path = folder / "done.json"
    strategy = strategy or tf.distribute.get_strategy()

    if folder.exists() and any(folder.iterdir()) and not resume:
        raise FileExistsError(f"{folder} already holds a training; pass resume=True (--resume) to continue "
                              "it, or train into a new folder.")
    folder.mkdir(parents=True, exist_ok=True)

    with strategy.scope():
        model = build_model()

    if resume and done_path.exists():
        _load_best_weights(model, best_path)
        history = read_history(history_path)
        best_epoch, best_value = _best(history, monitor, mode)
        return FitResult(model, history, best_epoch, best_value, sum(history.get("epoch_seconds", [])),
                         folder, resumed=True)

    previous = read_history(history_path) if resume and history_path.exists() else {}
    _, previous_best = _best(previous, monitor, mode)
    checkpoint = keras.callbacks.ModelCheckpoint(
        best_path, monitor=monitor, mode=mode, save_best_only=True,
        # After a resume, only an epoch better than every earlier one may replace the checkpoint.
        initial_value_threshold=None if math.isnan(previous_best) else previous_best,
    )
    reduce_lr = ([keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode=mode, factor=0.5,
                                                     patience=reduce_lr_patience)] if reduce_lr_patience else [])
    all_callbacks = [
        EpochTimer(),  # first, so that the CSV logger sees epoch_seconds
        # Next, so that every callback after it sees the exact val_auc.
        *([ValidationAUC(*validation_data, task)] if task is not None else []),
        *reduce_lr,
        keras.callbacks.BackupAndRestore(str(folder / "backup")),
        checkpoint,
        keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience, restore_best_weights=True),
        keras.callbacks.CSVLogger(str(history_path), append=bool(previous)),
        *callbacks,
    ]
    train_dataset = as_dataset(train_data, batch_size, shuffle=True)
    validation_dataset = as_dataset(validation_data, batch_size or 256, shuffle=False)
    # The dataset shuffles itself (seeded); Keras's own shuffle applies only to arrays.
    model.fit(train_dataset, validation_data=validation_dataset, epochs=epochs, verbose=verbose,
              class_weight=class_weight, callbacks=all_callbacks, shuffle=False)

    if best_path.exists():
        _load_best_weights(model, best_path)
    else:
        model.save(best_path)  # no epoch improved on the monitored value: keep the last weights
    history = read_history(history_path)
    best_epoch, best_value = _best(history, monitor, mode)
    train_seconds = sum(history.get("epoch_seconds", []))
    write_json(done_path, {"best_epoch": best_epoch, "best_value": best_value, "monitor": monitor,
                           "epochs_run": len(history.get("loss", [])), "train_seconds": train_seconds})
    return FitResult(model, history, best_epoch, best_value, train_seconds, folder, resumed=bool(previous))


def as_dataset(data, batch_size, shuffle, seed=None):
    """A batched, prefetching ``tf.data.Dataset`` from ``(x, y)`` arrays; datasets pass through unchanged.

    Shuffling draws from TensorFlow's global seed (set by ``common.reproducibility.set_seed``) unless
    ``seed`` is given, and reshuffles every epoch.
    """
    if isinstance(data, tf.data.Dataset):
        return data
    if not isinstance(data, tuple | list) or len(data) != 2:
        raise ValueError("Training and validation data must be a tf.data.Dataset or a pair (x, y) of arrays.")
    if batch_size is None:
        raise ValueError("batch_size is needed when the data are arrays.")
    x, y = data
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} items but y has {len(y)}.")
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def recalibrate_batch_norm(model, x, batch_size=64):
    """Re-estimate every batch-norm layer's moving mean and variance from inputs ``x`` ("precise BN").

    During training, batch norm keeps running averages of statistics of *augmented* batches, taken while the
    weights were still changing; at inference it sees clean images and the final weights. When augmentation
    changes intensities or framing, the two disagree and accuracy suffers (Wu & Johnson, "Rethinking 'Batch'
    in BatchNorm", 2021). This recomputes, layer by layer in graph order, the exact mean and variance of each
    batch-norm layer's input over ``x`` with the model in inference mode (no augmentation, no dropout; earlier
    batch-norm layers already recalibrated). Only the moving statistics change.

    Args:
        model: a functional Keras model (batch-norm layers directly in it, not in a nested model).
        x: inputs as the model expects them, e.g. the clean training images.

    Returns:
        The number of batch-norm layers recalibrated.
    """
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in layers:
        probe = keras.Model(model.input, layer.input)
        axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
        total, total_squares, count = 0.0, 0.0, 0
        for start in range(0, len(x), batch_size):
            values = np.asarray(probe(x[start:start + batch_size], training=False), dtype=np.float64)
            values = np.moveaxis(values, axis, -1).reshape(-1, values.shape[axis])
            total = total + values.sum(axis=0)
            total_squares = total_squares + (values ** 2).sum(axis=0)
            count += values.shape[0]
        mean = total / count
        variance = np.maximum(total_squares / count - mean ** 2, 0.0)
        layer.moving_mean.assign(mean.astype(layer.moving_mean.dtype))
        layer.moving_variance.assign(variance.astype(layer.moving_variance.dtype))
    return len(layers)


# The model file a run reports when batch norm was re-estimated after training (see save_final_model).
FINAL_MODEL = "model.keras"


def save_final_model(fit, x_clean, batch_size=64):
    """The model a run reports: ``fit``'s best checkpoint with every batch-norm layer's statistics re-estimated
    on the clean inputs ``x_clean`` (``recalibrate_batch_norm``), saved as ``<folder>/model.keras``.

    The checkpoint's statistics are running averages over (augmented) training batches taken while the weights
    still moved; at inference the model sees clean images and its final weights. A model without batch norm
    keeps its checkpoint, ``best.keras``, which is not written twice. Returns the model file.
    """
    if recalibrate_batch_norm(fit.model, x_clean, batch_size=batch_size):
        return save_model(fit.model, fit.folder / FINAL_MODEL)
    return fit.folder / "best.keras"


def predict_scores(model, x, batch_size=256):
    """Model outputs (probabilities) for inputs ``x`` as a float32 NumPy array."""
    if isinstance(x, tf.data.Dataset):
        return model.predict(x, verbose=0).astype("float32")
    # Arrays are padded to whole batches, so every batch has one shape and the prediction function is
    # traced once per model rather than again for a short last batch.
    x = np.asarray(x)
    batch_size = max(1, min(batch_size, len(x)))
    padding = -len(x) % batch_size
    padded = np.concatenate([x, np.repeat(x[-1:], padding, axis=0)]) if padding else x
    scores = model.predict(tf.data.Dataset.from_tensor_slices(padded).batch(batch_size), verbose=0)
    return scores[: len(x)].astype("float32")
