"""The trainer: ``model.fit`` with early stopping, best checkpoints, a CSV history and resumable runs.

``fit_model`` trains one model into its own folder inside a run folder::

    <run>/<model_name>/best.keras     the weights of the best validation epoch (the model the run reports)
    <run>/<model_name>/history.csv    one row per epoch, including the seconds each epoch took
    <run>/<model_name>/done.json      when it finished, the best epoch, the epochs run, the training time, the
                                      precision it trained in (common.precision)

While it trains, everything goes to ``<run>/<model_name>.training/``; when the training is over, that folder
is renamed to ``<run>/<model_name>/`` in one step. A model folder therefore exists only for a finished fit, with
its checkpoint, history and ``done.json`` together, and a kill at any moment leaves either a finished model or
an unfinished training folder, never a mix.

With ``resume=True`` a finished model is loaded instead of trained again. An unfinished training folder is
discarded and that model trained again from its first epoch: every fit starts from its own seed, so the
resumed run gives exactly the numbers of an uninterrupted one. (Continuing mid-fit from the last epoch would
not: the data order, the augmentation and the dropout draws of the remaining epochs would differ.)

The model trains in the run's precision (``--precision``; ``common.precision.build_for_training``) and is saved
and returned computing in float32, so that every score and every reload is the same on any machine.

Early stopping and checkpoint selection watch a validation metric, so the validation data must be given
explicitly and must not be the test split: the test split is for the one final evaluation.
"""

import dataclasses
import json
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from common.atomic import save_model, write_json
from common.evaluate import evaluate_predictions
from common.faults import fault_point
from common.precision import build_for_training, to_float32
from common.run import DONE_FILE
from common.tf_setup import import_tensorflow_quietly

tf = import_tensorflow_quietly()
import keras  # noqa: E402  (TensorFlow must be imported first, quietly)


class _FaultPoint(keras.callbacks.Callback):
    """The ``epoch`` point of ``common.faults`` (tests only), after the epoch's checkpoint and history row."""

    def on_epoch_end(self, epoch, logs=None):
        fault_point("epoch")


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

    model: keras.Model  # computes in float32 (common.precision.to_float32), whatever precision it trained in
    history: dict  # metric name -> list of per-epoch values, including "epoch_seconds"
    best_epoch: int  # 1-based
    best_value: float  # the monitored metric at the best epoch
    train_seconds: float  # the sum of epoch times, across resumed sessions
    folder: Path
    resumed: bool
    precision: dict = dataclasses.field(default_factory=dict)  # common.precision.ModelPrecision: what it trained in

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


TRAINING_SUFFIX = ".training"


def training_folder(folder):
    """Where the fit that ends in model folder ``folder`` trains: ``<folder>.training``."""
    folder = Path(folder)
    return folder.with_name(folder.name + TRAINING_SUFFIX)


def _finished(folder, monitor, mode, model):
    """The FitResult of a finished fit in ``folder`` (its best weights loaded into ``model``, switched to float32)."""
    _load_best_weights(model, folder / "best.keras")
    history = read_history(folder / "history.csv")
    best_epoch, best_value = _best(history, monitor, mode)
    try:
        precision = json.loads((folder / DONE_FILE).read_text()).get("precision", {})
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        precision = {}
    return FitResult(to_float32(model), history, best_epoch, best_value, sum(history.get("epoch_seconds", [])),
                     folder, resumed=True, precision=precision)


VALIDATION_BATCH = 32


def fit_model(build_model, train_data, validation_data, folder, *, epochs, batch_size=None,
              monitor="val_loss", mode="auto", patience=10, strategy=None, resume=False, verbose=2,
              reduce_lr_patience=None, class_weight=None, callbacks=(), task=None, seed=None, tensorboard=False):
    """Build, train and return a model, keeping the weights of its best validation epoch.

    Args:
        build_model: a function with no arguments returning a *compiled* ``keras.Model``; it is called
            inside ``strategy.scope()`` so that the variables are placed by the strategy, under the run's
            precision (``common.precision.build_for_training``).
        train_data: ``(x, y)`` arrays or a batched ``tf.data.Dataset`` of (x, y).
        validation_data: ``(x, y)`` arrays or a batched dataset; never the test split.
        folder: the model folder (see the module docstring); it must not exist unless resuming.
        epochs: the maximum number of epochs; early stopping usually ends sooner.
        batch_size: the batch size when ``train_data`` holds arrays; with a dataset, the batch it yields (where
            its element spec does not say it), which the precision choice needs.
        monitor, mode: the validation metric that picks the best epoch and stops training ("auto" maximises
            accuracy / AUC-like names and minimises the rest).
        patience: epochs without improvement before stopping.
        reduce_lr_patience: if set, halve the learning rate after this many epochs without improvement
            (set it below ``patience`` so that the smaller rate gets a chance before training stops).
        strategy: a ``tf.distribute.Strategy`` (default: the current one).
        resume: reload a finished fit in ``folder``, or train again one that was interrupted.
        task: the evaluator's task ("binary", "multi-class", "ordinal", "multi-label"); given, the exact
            validation AUC is logged every epoch as ``val_auc`` (``ValidationAUC``), and ``monitor="val_auc"``
            needs it. The validation data must then be arrays.
        seed: if given, every random generator is seeded with it just before the model is built
            (``common.reproducibility.set_seed``), so that this fit gives the same result whether or not other
            fits ran before it in the same process (as after ``--resume``).
        tensorboard: write TensorBoard logs (every logged metric, per epoch) into ``<folder>/tensorboard/``
            (``tensorboard --logdir runs/`` shows every run's).

    Returns:
        A ``FitResult`` whose model computes in float32 (its ``best.keras`` too).
    """
    if validation_data is None:
        raise ValueError("fit_model needs validation_data for early stopping and checkpoint selection; "
                         "carve it from the training split, never from the test split.")
    if monitor == "val_auc" and task is None:
        raise ValueError("monitor='val_auc' needs task=... so that the exact validation AUC is computed (Keras's "
                         "approximate AUC metric is not used; see ValidationAUC).")
    folder, mode = Path(folder), _monitor_mode(monitor, mode)
    scratch = training_folder(folder)
    strategy = strategy or tf.distribute.get_strategy()
    if folder.exists() and not resume:
        raise FileExistsError(f"{folder} already holds a finished training; pass resume=True (--resume) to reload "
                              "it, or train into a new folder.")
    if scratch.exists():
        if not resume:
            raise FileExistsError(f"{scratch} holds an unfinished training; pass resume=True (--resume) to train it "
                                  "again, or train into a new folder.")
        print(f"[resume] {folder.name}: its training was interrupted; it starts again from the first epoch",
              file=sys.stderr, flush=True)
        shutil.rmtree(scratch)
    if seed is not None:
        from common.reproducibility import set_seed

        set_seed(seed)
    with strategy.scope():
        model, precision = build_for_training(build_model, batch_size=batch_size or _batch_of(train_data))
    if folder.exists():  # resume=True and the fit had finished
        return _finished(folder, monitor, mode, model)

    scratch.mkdir(parents=True)
    reduce_lr = ([keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode=mode, factor=0.5,
                                                     patience=reduce_lr_patience)] if reduce_lr_patience else [])
    all_callbacks = [
        EpochTimer(),  # first, so that the CSV logger sees epoch_seconds
        # Next, so that every callback after it sees the exact val_auc.
        *([ValidationAUC(*validation_data, task)] if task is not None else []),
        *reduce_lr,
        keras.callbacks.ModelCheckpoint(scratch / "best.keras", monitor=monitor, mode=mode, save_best_only=True),
        keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience),
        keras.callbacks.CSVLogger(str(scratch / "history.csv")),
        *([keras.callbacks.TensorBoard(str(scratch / "tensorboard"), write_graph=False, profile_batch=0)]
          if tensorboard else []),
        _FaultPoint(),
        *callbacks,
    ]
    train_dataset = as_dataset(train_data, batch_size, shuffle=True)
    # Validation only predicts: batches of at least VALIDATION_BATCH, fewer calls for the same numbers.
    validation_dataset = as_dataset(validation_data, max(batch_size or 256, VALIDATION_BATCH), shuffle=False)
    # The dataset shuffles itself (seeded); Keras's own shuffle applies only to arrays.
    model.fit(train_dataset, validation_data=validation_dataset, epochs=epochs, verbose=verbose,
              class_weight=class_weight, callbacks=all_callbacks, shuffle=False)

    if (scratch / "best.keras").exists():
        _load_best_weights(model, scratch / "best.keras")
    # (else no epoch improved on the monitored value: the last weights are kept.) The model the run reports and
    # saves computes in float32, whatever precision it trained in.
    save_model(to_float32(model), scratch / "best.keras")
    history = read_history(scratch / "history.csv")
    best_epoch, best_value = _best(history, monitor, mode)
    train_seconds = sum(history.get("epoch_seconds", []))
    write_json(scratch / DONE_FILE, {"best_epoch": best_epoch, "best_value": best_value, "monitor": monitor,
                                     "epochs_run": len(history.get("loss", [])), "train_seconds": train_seconds,
                                     "precision": precision.to_dict()})
    # The commit: checkpoint, history and done.json become the model folder together.
    fault_point(f"commit:{folder.name}")
    os.replace(scratch, folder)
    return FitResult(model, history, best_epoch, best_value, train_seconds, folder, resumed=False,
                     precision=precision.to_dict())


def shard_by_data(dataset):
    """``dataset`` with an explicit auto-shard policy: split by element (batch) between the workers of a
    multi-worker strategy. The default policy shards by file, which an in-memory dataset has none of."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _batch_of(data):
    """The static batch size of a dataset's inputs, or None (arrays, or batches of unknown size)."""
    spec = getattr(data, "element_spec", None)
    while isinstance(spec, tuple | list):
        spec = spec[0] if spec else None
    shape = getattr(spec, "shape", None)
    return shape[0] if shape is not None and shape.rank else None


def as_dataset(data, batch_size, shuffle, seed=None):
    """A batched, prefetching ``tf.data.Dataset`` from ``(x, y)`` arrays, sharded by data for multi-worker
    training (``shard_by_data``); datasets get the same sharding and are otherwise unchanged.

    Shuffling draws from TensorFlow's global seed (set by ``common.reproducibility.set_seed``) unless
    ``seed`` is given, and reshuffles every epoch.
    """
    if isinstance(data, tf.data.Dataset):
        return shard_by_data(data)
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
    return shard_by_data(dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE))


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
        return model.predict(shard_by_data(x), verbose=0).astype("float32")
    # Arrays are padded to whole batches, so every batch has one shape and the prediction function is
    # traced once per model rather than again for a short last batch.
    x = np.asarray(x)
    batch_size = max(1, min(batch_size, len(x)))
    padding = -len(x) % batch_size
    padded = np.concatenate([x, np.repeat(x[-1:], padding, axis=0)]) if padding else x
    scores = model.predict(shard_by_data(tf.data.Dataset.from_tensor_slices(padded).batch(batch_size)), verbose=0)
    return scores[: len(x)].astype("float32")
