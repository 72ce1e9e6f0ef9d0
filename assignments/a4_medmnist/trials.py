"""How far the from-scratch models get on RetinaMNIST (28 px): training settings x seeds, and their ensembles.

    python -m assignments.a4_medmnist.trials                         every setting, seeds 1 and 2 (about 50 min)
    python -m assignments.a4_medmnist.trials --settings base,small --seeds 1,2,3
    python -m assignments.a4_medmnist.trials --list                  the settings and what each changes
    python -m assignments.a4_medmnist.trials --settings base --dataset sample --epochs 1   a quick check on sample data

This is a *study*, not model selection. It prints validation AND test scores of every trial so that two
questions can be answered with numbers: how much does the test AUC move from seed to seed, and how far does this
family of models get at all? Picking a setting by its test score would fit the test split; the assignment itself
(``python -m assignments.a4_medmnist``) chooses on validation only, and its README says which of its defaults
came from these trials.

Each trial runs in its own process with one TensorFlow thread (``--jobs`` of them side by side) and is
deterministic: the same setting and seed give the same numbers. The study writes one run folder,
``<runs-dir>/<assignment>_trials/<timestamp>/`` (``config.json``, ``trials.jsonl`` with one line per trial, each
trial's model and its validation and test probabilities); the summary (``summary.md``, also printed) gives per
setting the mean and spread over seeds and the ensemble of its seeds (mean probabilities), and the ensemble of
every trial. The settings are the fields of ``config.TrialsConfig``.
"""

import dataclasses
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from common.config import parse_config

from .config import ASSIGNMENT, TrialsConfig

DATASET, SIZE = "retinamnist", 28


@dataclasses.dataclass(frozen=True)
class Trial:
    """One training recipe (for the custom CNN unless ``architecture`` says otherwise). ``base_trial`` fills the
    first block from ``A4Config``'s P2-A defaults; the knobs after it are the study's own and are off by default."""

    filters: tuple
    dense_units: int
    dropout_rate: float
    flip_axes: tuple  # augmentation of the training images, then mixup
    max_rotation: float
    max_zoom: float
    mixup_alpha: float
    learning_rate: float  # Adam, early stopping on validation loss, learning rate halved on plateaus
    batch_size: int
    epochs: int
    patience: int
    reduce_lr_patience: int
    max_shift: int = 0
    intensity_jitter: float = 0.0
    # a cosine decay over all epochs instead, keeping the last epoch's weights (no choice on validation)
    cosine: bool = False
    label_smoothing: float = 0.0
    # class weights (N / (C * n_c)) ** power; 0 = none
    class_weight_power: float = 0.0
    # soft ordinal targets: exp(-s * (k - grade)^2), normalised; 0 = one-hot
    ordinal_softness: float = 0.0
    # Graham's fundus preprocessing, 4 * (x - blur_sigma(x)) + 0.5, as three more input channels; 0 = off
    graham_sigma: float = 0.0
    # "resnet": problem 3's ResNet (A4Config's resnet_* defaults) trained with the same recipe
    architecture: str = "custom_cnn"


def base_trial():
    """The assignment's P2-A recipe, read from ``A4Config``'s defaults, so that "base" follows any change to them."""
    from .config import A4Config

    config = A4Config()
    return Trial(filters=tuple(config.cnn_filters), dense_units=config.cnn_dense_units,
                 dropout_rate=config.cnn_dropout_rate, flip_axes=tuple(config.flip_axes),
                 max_rotation=config.max_rotation, max_zoom=config.max_zoom, mixup_alpha=config.mixup_alpha,
                 learning_rate=config.learning_rate, batch_size=config.batch_size, epochs=config.epochs,
                 patience=config.patience, reduce_lr_patience=config.reduce_lr_patience)


SETTINGS = {
    "base": ("the assignment's defaults", {}),
    "label_smoothing": ("label smoothing 0.1", {"label_smoothing": 0.1}),
    "strong_augmentation": ("rotations up to 180 degrees, shifts of 2 px, intensity jitter 0.1",
                            {"max_rotation": 180.0, "max_shift": 2, "intensity_jitter": 0.1}),
    "class_weights": ("class weights N / (C n_c)", {"class_weight_power": 1.0}),
    "class_weights_sqrt": ("class weights (N / (C n_c)) ** 0.5", {"class_weight_power": 0.5}),
    "soft_ordinal_labels": ("soft ordinal targets exp(-(k - grade)^2)", {"ordinal_softness": 1.0}),
    "cosine_60": ("cosine decay over 60 epochs, last weights kept", {"cosine": True, "epochs": 60}),
    "small": ("filters 16-32-64, dense 128, dropout 0.5",
              {"filters": (16, 32, 64), "dense_units": 128, "dropout_rate": 0.5}),
    "wide": ("filters 64-128-256", {"filters": (64, 128, 256)}),
    "batch_32": ("batch size 32", {"batch_size": 32}),
    "lr_3e-4": ("learning rate 3e-4, patience 25, plateau patience 8",
                {"learning_rate": 3e-4, "patience": 25, "reduce_lr_patience": 8}),
    "graham_sigma_1": ("Graham preprocessing (sigma 1 px) as extra channels", {"graham_sigma": 1.0}),
    "graham_sigma_2": ("Graham preprocessing (sigma 2 px) as extra channels", {"graham_sigma": 2.0}),
    "resnet": ("problem 3's ResNet instead of the custom CNN", {"architecture": "resnet"}),
}


def graham_channels(x, sigma):
    """Graham's Kaggle-DR preprocessing, 4 * (x - gaussian_blur(x, sigma)) + 0.5 clipped to [0, 1], appended to
    ``x`` (N, H, W, C) as C more channels: the local contrast in which small lesions stand out."""
    from scipy.ndimage import gaussian_filter

    blurred = gaussian_filter(x, sigma=(0, sigma, sigma, 0), mode="nearest")
    high_pass = np.clip(4 * (x - blurred) + 0.5, 0, 1).astype(np.float32)
    return np.concatenate([x, high_pass], axis=-1)


def _load(data_kind, data_dir):
    from common.config import make_config

    from .config import A4Config
    from .data import load_task_data

    return load_task_data(DATASET, SIZE, make_config(A4Config, {"dataset": data_kind, "data_dir": data_dir}))


def run_trial(name, seed, out_dir, data_kind="medmnist", data_dir=None, epochs=None):
    """Train setting ``name`` with ``seed`` into ``out_dir/name_s<seed>``; returns its JSON-ready result."""
    from common.tf_setup import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    from common.augment import augmented_dataset, mixup_batches
    from common.evaluate import evaluate_predictions
    from common.reproducibility import set_seed
    from common.train import fit_model, predict_scores, recalibrate_batch_norm

    from .config import A4Config
    from .model import build_custom_cnn_for_task, build_resnet_for_task

    trial = dataclasses.replace(base_trial(), **SETTINGS[name][1], **({"epochs": epochs} if epochs else {}))
    data = _load(data_kind, data_dir)
    classes = data.num_outputs
    targets = data.targets(data.y_train)
    if trial.ordinal_softness:
        grades = np.arange(classes)
        soft = np.exp(-trial.ordinal_softness * (grades[None, :] - data.y_train.reshape(-1)[:, None]) ** 2)
        targets = (soft / soft.sum(axis=1, keepdims=True)).astype(np.float32)
    x_train, x_val, x_test = data.x_train, data.x_val, data.x_test
    if trial.graham_sigma:
        x_train, x_val, x_test = (graham_channels(x, trial.graham_sigma) for x in (x_train, x_val, x_test))
    set_seed(seed)
    train = augmented_dataset(x_train, targets, trial.batch_size, seed, flip_axes=trial.flip_axes,
                              max_shift=trial.max_shift, intensity_jitter=trial.intensity_jitter,
                              max_rotation=trial.max_rotation, max_zoom=trial.max_zoom)
    if trial.mixup_alpha:
        train = mixup_batches(train, trial.mixup_alpha, seed + 1)

    def build():
        if trial.architecture == "resnet":
            config = A4Config()
            model = build_resnet_for_task(x_train.shape[1:], classes, data.task, config.resnet_blocks,
                                          config.resnet_filters, config.resnet_dropout_rate)
        else:
            model = build_custom_cnn_for_task(x_train.shape[1:], classes, data.task, trial.filters,
                                              trial.dense_units, trial.dropout_rate)
        rate = trial.learning_rate
        if trial.cosine:
            steps = trial.epochs * int(np.ceil(len(x_train) / trial.batch_size))
            rate = keras.optimizers.schedules.CosineDecay(trial.learning_rate, steps)
        model.compile(keras.optimizers.Adam(rate), keras.losses.CategoricalCrossentropy(
            label_smoothing=trial.label_smoothing), metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
        return model

    class_weight = None
    if trial.class_weight_power:
        counts = np.bincount(data.y_train.reshape(-1), minlength=classes)
        class_weight = {index: float((len(data.y_train) / (classes * count)) ** trial.class_weight_power)
                        for index, count in enumerate(counts)}
    folder = Path(out_dir) / f"{name}_s{seed}"
    started = time.perf_counter()
    # With a cosine schedule the training loss is the monitor: it falls to the end, so the last epoch is kept.
    fit = fit_model(build, train, (x_val, data.targets(data.y_val)), folder, epochs=trial.epochs,
                    batch_size=trial.batch_size, monitor="loss" if trial.cosine else "val_loss", mode="min",
                    patience=trial.epochs if trial.cosine else trial.patience,
                    reduce_lr_patience=None if trial.cosine else trial.reduce_lr_patience, verbose=0,
                    class_weight=class_weight)
    recalibrate_batch_norm(fit.model, x_train, batch_size=64)
    result = {"setting": name, "seed": seed, "dataset": data.dataset, "epochs_run": fit.epochs_run,
              "best_epoch": fit.best_epoch, "seconds": round(time.perf_counter() - started, 1)}
    for split, x, labels in (("val", x_val, data.y_val), ("test", x_test, data.y_test)):
        scores = predict_scores(fit.model, x, 64)
        scored = evaluate_predictions(labels, scores, data.task, data.class_names)
        result[f"{split}_auc"], result[f"{split}_accuracy"] = scored["auc"], scored["accuracy"]
        np.savez(folder / f"{split}_scores.npz", y_true=labels, y_score=scores)
    return result


def _ensemble(out_dir, results, split, task):
    from common.evaluate import evaluate_predictions

    saved = [np.load(Path(out_dir) / f"{row['setting']}_s{row['seed']}" / f"{split}_scores.npz") for row in results]
    scored = evaluate_predictions(saved[0]["y_true"], np.mean([entry["y_score"] for entry in saved], axis=0), task)
    return scored["auc"], scored["accuracy"]


def summarise(out_dir, results, task="ordinal"):
    """The markdown summary of ``results`` (rows of ``run_trial``) in ``out_dir``."""
    from common.report import markdown_table

    def spread(values):
        return f"{np.mean(values):.3f} ± {np.std(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}"

    def ensemble_row(setting, change, group):
        val_auc, _ = _ensemble(out_dir, group, "val", task)
        test_auc, test_accuracy = _ensemble(out_dir, group, "test", task)
        return {"setting": setting, "change": change, "seeds": len(group),
                "val_auc": spread([row["val_auc"] for row in group]),
                "test_auc": spread([row["test_auc"] for row in group]),
                "test_accuracy": spread([row["test_accuracy"] for row in group]),
                "ensemble_val_auc": f"{val_auc:.3f}", "ensemble_test": f"{test_auc:.3f} / {test_accuracy:.3f}"}

    rows = [ensemble_row(name, SETTINGS[name][0], [row for row in results if row["setting"] == name])
            for name in dict.fromkeys(row["setting"] for row in results)]
    rows.append(ensemble_row("all trials", "the ensemble of every trial above", results))
    columns = {"setting": "setting", "change": "change from the defaults", "seeds": "trials",
               "val_auc": "val AUC", "test_auc": "test AUC", "test_accuracy": "test ACC",
               "ensemble_val_auc": "ensemble val AUC", "ensemble_test": "ensemble test AUC / ACC"}
    return (f"# RetinaMNIST ({SIZE} px) trials of the from-scratch models\n\n"
            f"Data: {results[0]['dataset']}. Mean ± standard deviation over seeds; an ensemble averages the "
            "probabilities of its trials. Test scores are shown to measure the spread and the ceiling, not to "
            "choose a setting.\n\n" + markdown_table(rows, columns) + "\n")


def _trial_in_child(name, seed, out_dir, data_kind, data_dir, epochs):
    """One trial in a child process of its own: one TensorFlow thread, as the study's timings assume."""
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return run_trial(name, seed, out_dir, data_kind, data_dir, epochs)


def run_study(config):
    """Run every (setting, seed) of ``config`` (a ``TrialsConfig``); returns the study's run folder."""
    from common.atomic import write_json, write_text
    from common.run import CONFIG_FILE, RunFolder

    _load(config.dataset, config.data_dir)  # a missing or broken data file stops here, before any trial starts
    run = RunFolder.create(config.runs_dir, f"{ASSIGNMENT}_trials")
    write_json(run.path / CONFIG_FILE, dataclasses.asdict(config))
    jobs = [(name, seed) for seed in config.seeds for name in (config.settings or SETTINGS)]
    print(f"[trials] {len(jobs)} trials, {config.jobs} at a time, into {run.path}", flush=True)
    results = []
    # A fresh process per trial ("spawn", one task each): TensorFlow's thread settings and random state start
    # anew, so a trial's numbers do not depend on which trials ran before it in the same worker.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(config.jobs, mp_context=context, max_tasks_per_child=1) as pool:
        futures = {pool.submit(_trial_in_child, name, seed, str(run.path), config.dataset, config.data_dir,
                               config.epochs or None): (name, seed) for name, seed in jobs}
        for future, (name, seed) in futures.items():
            try:
                results.append(future.result())
            except Exception as error:  # noqa: BLE001 (a failed trial is reported; the others go on)
                print(f"[trials] {name} seed {seed}: FAILED: {type(error).__name__}: {error}", flush=True)
                continue
            with open(run.path / "trials.jsonl", "a") as log:
                log.write(json.dumps(results[-1]) + "\n")
            print(f"[trials] {name} seed {seed}: done", flush=True)
    if results:
        summary = summarise(run.path, sorted(results, key=lambda row: (list(SETTINGS).index(row["setting"]),
                                                                       row["seed"])))
        write_text(run.path / "summary.md", summary)
        print(summary)
    return run.path, len(results) == len(jobs)


def main(argv=None):
    config = parse_config(TrialsConfig, argv, prog=f"{__package__}.trials", description=__doc__)
    if config.list:
        for name, (description, _) in SETTINGS.items():
            print(f"{name:22s} {description}")
        return 0
    unknown = [name for name in config.settings if name not in SETTINGS]
    if unknown:
        print(f"{__package__}.trials: error: unknown setting(s) {', '.join(unknown)}; choose from "
              f"{', '.join(SETTINGS)} (see --list)", file=sys.stderr)
        return 2
    from common.datasets.files import DataError

    try:
        folder, complete = run_study(config)
    except DataError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    print(folder)
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
