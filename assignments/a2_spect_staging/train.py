"""Assignment 2, end to end: read and crop the SPECT images, compare two intensity normalisations, then five
models x two class-imbalance strategies by stratified k-fold cross-validation on the training cases; choose the
best (model, strategy) on mean cross-validated balanced accuracy, retrain it on all training cases, evaluate it
once on the held-out test cases beside the majority-class and chance baselines, report.

    python -m assignments.a2_spect_staging                       synthetic DaTscan-like phantoms
    python -m assignments.a2_spect_staging --data /path/to/pngs  your root/<stage>/*.png (or a CSV path,label)
"""

import json
import platform
import sys
import time

import numpy as np

from common.augment import augmented_dataset
from common.datasets.files import DataError
from common.datasets.splits import class_weights, stratified_kfold, stratified_split
from common.evaluate import evaluate_predictions
from common.plots import plot_confusion_matrix, plot_image_grid, plot_learning_curves, plot_roc_curves
from common.profiling import count_parameters
from common.report import RunFolder, markdown_table, sample_data_banner, write_json
from common.reproducibility import set_seed
from common.tf_setup import import_tensorflow_quietly
from common.train import fit_model, get_strategy, predict_scores, recalibrate_batch_norm, set_mixed_precision

from .config import ASSIGNMENT, TRANSFER_MODELS
from .data import load_spect_data, normalize, oversample_indices
from .model import FROM_SCRATCH_CNNS, build_model, compile_classifier, learning_rate_for

tf = import_tensorflow_quietly()
import keras  # noqa: E402

# The image axis that runs left <-> right in a crop (H, W, C).
LEFT_RIGHT_AXIS = 1
BASELINES = ("majority_baseline", "chance_baseline")
PREDICT_BATCH = 64
INTENDED_USE = "Teaching only: not a medical device, not for diagnosis."


def candidate_name(model, imbalance):
    """The name of one (model, imbalance strategy) pair, e.g. "compact_vgg16-oversampling"."""
    return f"{model}-{imbalance}"


def resolve_transfer_weights(config):
    """Decide once per run which weights the transfer models get: ({model: "imagenet" or None}, {model: note}).

    The ImageNet weights are downloaded by Keras on first use. Without internet the download fails; then the
    model is trained from random weights, and its note says the row is not a transfer-learning result.
    """
    weights, notes = {}, {}
    size = config.transfer_image_size
    for name in (model for model in config.models if model in TRANSFER_MODELS):
        if config.transfer_weights == "none":
            weights[name] = None
            notes[name] = ("random initialisation (--transfer-weights none): NOT transfer learning, the row is not "
                           "meaningful as a transfer-learning result")
            continue
        application = keras.applications.VGG16 if name == "vgg16_transfer" else keras.applications.ResNet50
        try:
            application(include_top=False, weights="imagenet", input_shape=(size, size, 3))
            weights[name], notes[name] = "imagenet", "ImageNet weights"
        except Exception as error:  # Keras raises plain Exception for a failed download
            weights[name] = None
            notes[name] = (f"random initialisation: the ImageNet weights could not be downloaded ({error}); the row is "
                           "NOT a transfer-learning result and not meaningful as one")
            print(f"warning: {name}: {notes[name]}", file=sys.stderr)
    return weights, notes


def training_dataset(x, y, num_classes, imbalance, config, seed):
    """Shuffled, augmented batches of (x, one-hot y, sample weight) for one training run.

    "oversampling" repeats random cases of the smaller classes (weights 1); "class_weight" keeps the cases and
    weights each by its class's inverse frequency, which is exactly what Keras's ``class_weight`` does, written
    out so that both strategies feed one compiled training step.
    """
    if imbalance == "oversampling":
        index = oversample_indices(y, seed)
        weights = np.ones(len(index), np.float32)
    else:
        index = np.arange(len(y))
        per_class = class_weights(y, num_classes)
        weights = np.array([per_class[label] for label in y], np.float32)
    x, one_hot = x[index], np.eye(num_classes, dtype=np.float32)[y[index]]
    if config.augment:
        flips = (LEFT_RIGHT_AXIS,) if config.flip_left_right else ()
        dataset = augmented_dataset(x, (one_hot, weights), config.batch_size, seed, flip_axes=flips,
                                    max_shift=config.max_shift, intensity_jitter=config.intensity_jitter,
                                    max_rotation=config.max_rotation)
    else:
        dataset = (tf.data.Dataset.from_tensor_slices((x, (one_hot, weights)))
                   .shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(config.batch_size))
    return dataset.map(lambda image, target: (image, target[0], target[1])).prefetch(tf.data.AUTOTUNE)


def scores_of(model, x):
    """Softmax scores (N, K) of ``x``, predicted in batches of PREDICT_BATCH (the last one padded), so that every
    call has one input shape and a model's prediction step is compiled once, not once per fold."""
    padding = -len(x) % PREDICT_BATCH
    padded = np.concatenate([x, np.repeat(x[-1:], padding, axis=0)]) if padding else x
    return predict_scores(model, padded, batch_size=PREDICT_BATCH)[: len(x)]


class FoldTrainer:
    """One compiled model per architecture, reset to the same initial weights and optimizer state before every
    fold. Building and tracing a model costs more than a fold's training on a few hundred small images, so the
    folds, both imbalance strategies and both normalisations reuse one model and its compiled training step."""

    def __init__(self, name, build, strategy):
        self.name = name
        with strategy.scope():
            self.model = build()
            self.model.optimizer.build(self.model.trainable_variables)
        self._weights = self.model.get_weights()
        self._optimizer_state = [variable.numpy() for variable in self.model.optimizer.variables]

    def reset(self):
        self.model.set_weights(self._weights)
        for variable, value in zip(self.model.optimizer.variables, self._optimizer_state):
            variable.assign(value)

    def train_and_score(self, x_train, y_train, x_held_out, y_held_out, imbalance, config, seed, class_names):
        """Train on (x_train, y_train) from the initial weights and score the held-out cases.

        A stratified ``validation_fraction`` of x_train is kept apart for early stopping on validation AUC.

        Returns:
            (held-out scores float32 (M, K), {"epochs_run", "best_epoch", "train_seconds"}).
        """
        num_classes = len(class_names)
        self.reset()
        keep, validation = stratified_split(y_train, config.validation_fraction, seed=seed)
        dataset = training_dataset(x_train[keep], y_train[keep], num_classes, imbalance, config, seed)
        callbacks = [keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=config.patience,
                                                   restore_best_weights=True),
                     keras.callbacks.ReduceLROnPlateau(monitor="val_auc", mode="max", factor=0.5,
                                                       patience=config.reduce_lr_patience)]
        started = time.perf_counter()
        validation_data = (x_train[validation], np.eye(num_classes, dtype=np.float32)[y_train[validation]])
        history = self.model.fit(dataset, validation_data=validation_data, epochs=config.epochs, verbose=config.verbose,
                                 callbacks=callbacks, shuffle=False).history
        if config.recalibrate_batch_norm and self.name in FROM_SCRATCH_CNNS:
            recalibrate_batch_norm(self.model, x_train[keep])
        seconds = time.perf_counter() - started
        scores = scores_of(self.model, x_held_out)
        values = history.get("val_auc", [0.0])
        return scores, {"epochs_run": len(values), "best_epoch": int(np.argmax(values)) + 1, "train_seconds": seconds}


def baseline_scores(name, y_train, count, num_classes, seed):
    """Scores of a baseline for ``count`` cases: "majority_baseline" gives every case the training class
    frequencies (so it always predicts the largest class); "chance_baseline" draws uniform random scores."""
    if name == "majority_baseline":
        prior = np.bincount(y_train, minlength=num_classes) / len(y_train)
        return np.tile(prior.astype(np.float32), (count, 1))
    scores = np.random.default_rng(seed).uniform(size=(count, num_classes)).astype(np.float32)
    return scores / scores.sum(axis=1, keepdims=True)


def summarise(fold_results, class_names):
    """Mean and standard deviation across folds of each metric, per-class recall, the summed confusion matrix."""
    summary = {"folds_run": len(fold_results)}
    for metric in ("balanced_accuracy", "macro_f1", "auc", "accuracy"):
        values = np.array([np.nan if result[metric] is None else result[metric] for result in fold_results])
        summary[f"{metric}_mean"] = float(np.nanmean(values)) if np.isfinite(values).any() else None
        summary[f"{metric}_sd"] = float(np.nanstd(values, ddof=1)) if np.isfinite(values).sum() > 1 else None
        summary[f"{metric}_folds"] = values.tolist()
    summary["recall_mean"] = {name: float(np.mean([result["per_class"][name]["recall"] for result in fold_results]))
                              for name in class_names}
    summary["recall_sd"] = {name: float(np.std([result["per_class"][name]["recall"] for result in fold_results],
                                               ddof=1)) for name in class_names}
    summary["confusion_matrix"] = np.sum([result["confusion_matrix"] for result in fold_results], axis=0).tolist()
    for key in ("epochs_run", "train_seconds"):
        if key in fold_results[0]:
            summary[f"{key}_mean"] = float(np.mean([result[key] for result in fold_results]))
    return summary


class CrossValidation:
    """Stratified k-fold cross-validation of (model, imbalance, normalisation) candidates on the training
    cases; every fold's result is written to ``<run>/cross_validation/`` so that ``--resume`` skips it."""

    def __init__(self, config, data, run_folder, strategy, transfer_weights):
        self.config, self.data, self.strategy = config, data, strategy
        self.transfer_weights = transfer_weights
        self.x = data.images[data.train_index]
        self.y = data.labels[data.train_index]
        self.folds = stratified_kfold(self.y, fold_count(config, self.y, data.class_names), seed=config.seed)
        self.folder = run_folder.path / "cross_validation"
        self.folder.mkdir(exist_ok=True)
        self.trainers = {}
        self._normalised = {}

    def trainer(self, model):
        """The ``FoldTrainer`` of ``model``, built on first use."""
        if model not in self.trainers:
            config, num_classes = self.config, len(self.data.class_names)
            set_seed(config.seed)  # every architecture starts from the same random state

            def build():
                network = build_model(model, self.x.shape[1:], num_classes, config, self.transfer_weights.get(model))
                return compile_classifier(network, learning_rate_for(model, config), num_classes)

            self.trainers[model] = FoldTrainer(model, build, self.strategy)
        return self.trainers[model]

    def _fold_data(self, fold, normalization):
        """Normalised (x_train, y_train, x_held_out, y_held_out) of one fold; "dataset" statistics come from the
        fold's training part only."""
        key = (fold, normalization)
        if key not in self._normalised:
            train, held_out = self.folds[fold]
            x_train, _ = normalize(self.x[train], normalization, reference=self.x[train])
            x_held_out, _ = normalize(self.x[held_out], normalization, reference=self.x[train])
            # Only the latest fold is kept: the candidates run fold after fold with one normalisation at a time.
            self._normalised = {key: (x_train, self.y[train], x_held_out, self.y[held_out])}
        return self._normalised[key]

    def run(self, model, imbalance, normalization):
        """Cross-validate one candidate; returns its summary row (see ``summarise``)."""
        config, class_names = self.config, self.data.class_names
        results = []
        for fold in range(len(self.folds)):
            path = self.folder / f"{candidate_name(model, imbalance)}_{normalization}_fold{fold + 1}.json"
            if config.resume and path.exists():
                results.append(json.loads(path.read_text()))
                continue
            x_train, y_train, x_held_out, y_held_out = self._fold_data(fold, normalization)
            print(f"[cv] {candidate_name(model, imbalance)} ({normalization} normalisation): fold {fold + 1} of "
                  f"{len(self.folds)}", flush=True)
            scores, info = self.trainer(model).train_and_score(x_train, y_train, x_held_out, y_held_out, imbalance,
                                                                config, config.seed + fold, class_names)
            result = {**evaluate_predictions(y_held_out, scores, self.data.task, class_names), **info}
            write_json(path, result)
            results.append(result)
        return {"candidate": candidate_name(model, imbalance), "model": model, "imbalance": imbalance,
                "normalization": normalization, **summarise(results, class_names)}

    def baselines(self):
        rows = []
        for name in BASELINES:
            results = []
            for fold, (train, held_out) in enumerate(self.folds):
                scores = baseline_scores(name, self.y[train], len(held_out), len(self.data.class_names),
                                         self.config.seed + fold)
                results.append(evaluate_predictions(self.y[held_out], scores, self.data.task, self.data.class_names))
            rows.append({"candidate": name, "model": name, "imbalance": "", "normalization": "",
                         **summarise(results, self.data.class_names)})
        return rows


def fold_count(config, y_train, class_names):
    """``config.folds``, reduced (with a warning) when a class has fewer training cases than folds.

    Raises:
        DataError: a class has fewer than two training cases (no cross-validation possible).
    """
    counts = np.bincount(y_train, minlength=len(class_names))
    smallest = int(counts.min())
    if smallest >= config.folds:
        return config.folds
    name = class_names[int(np.argmin(counts))]
    if smallest < 2:
        raise DataError(f"class {name!r} has {smallest} training case(s); cross-validation needs at least 2 per class. "
                        "Add cases of that class or leave it out (--class-names).")
    print(f"warning: class {name!r} has only {smallest} training cases, fewer than --folds {config.folds}; "
          f"cross-validating with {smallest} folds instead.", file=sys.stderr)
    return smallest


def _by_score(row):
    return (row["balanced_accuracy_mean"] or 0.0, row["auc_mean"] or 0.0)


def compare_normalizations(cv, config):
    """Cross-validate the first model and imbalance strategy with each normalisation; returns (rows, best)."""
    model, imbalance = config.models[0], config.imbalance_strategies[0]
    rows = [cv.run(model, imbalance, normalization) for normalization in config.normalizations]
    return rows, max(rows, key=_by_score)["normalization"]


def train_final(config, data, run_folder, strategy, chosen, normalization, cv):
    """Retrain the chosen candidate on all training cases (a stratified validation split for early stopping)
    and save it; returns (FitResult, model file relative to the run folder, normalised x_test, scale,
    validation metrics). The model starts from the same initial weights as in cross-validation."""
    num_classes = len(data.class_names)
    x_all = data.images[data.train_index]
    y_all = data.labels[data.train_index]
    x_all_normalised, scale = normalize(x_all, normalization, reference=x_all)
    x_test, _ = normalize(data.images[data.test_index], normalization, reference=x_all)
    keep, validation = stratified_split(y_all, config.validation_fraction, seed=config.seed)
    set_seed(config.seed)
    dataset = training_dataset(x_all_normalised[keep], y_all[keep], num_classes, chosen["imbalance"], config,
                               config.seed)

    trainer = cv.trainer(chosen["model"])

    def build():
        trainer.reset()  # the compiled model of cross-validation, back to its initial weights
        return trainer.model

    print(f"[final] retraining {chosen['candidate']} on all {len(y_all)} training cases", flush=True)
    fit = fit_model(build, dataset, (x_all_normalised[validation], np.eye(num_classes, dtype=np.float32)[
        y_all[validation]]), run_folder.model_folder(chosen["candidate"]), epochs=config.epochs, monitor="val_auc",
        mode="max", patience=config.patience, reduce_lr_patience=config.reduce_lr_patience, strategy=strategy,
        resume=config.resume, verbose=config.verbose)
    model_file = fit.folder / "best.keras"
    if config.recalibrate_batch_norm and chosen["model"] in FROM_SCRATCH_CNNS:
        recalibrate_batch_norm(fit.model, x_all_normalised[keep])
        model_file = fit.folder / "model.keras"
        fit.model.save(model_file)
    validation_scores = scores_of(fit.model, x_all_normalised[validation])
    validation_metrics = evaluate_predictions(y_all[validation], validation_scores, data.task, data.class_names)
    return fit, str(model_file.relative_to(run_folder.path)), x_test, scale, validation_metrics


def _test_row(name, dataset, scores, data, extra):
    """Score one model on the test cases (their only use) and save the predictions for the grader."""
    y_test = data.labels[data.test_index]
    result = evaluate_predictions(y_test, scores, data.task, data.class_names)
    return {"model": name, "dataset": dataset, "split": "test", "accuracy": result["accuracy"], "auc": result["auc"],
            "balanced_accuracy": result["balanced_accuracy"], "macro_f1": result["macro_f1"],
            "recall": {label: stats["recall"] for label, stats in result["per_class"].items()},
            "num_samples": result["num_samples"], "per_class": result["per_class"],
            "confusion_matrix": result["confusion_matrix"], **extra}


def run(config):
    """Run assignment 2 end to end; returns the run folder (a ``pathlib.Path``)."""
    started = time.perf_counter()
    strategy = get_strategy(config.strategy)  # before any other TensorFlow work (multi-worker needs it)
    set_seed(config.seed)
    set_mixed_precision(config.mixed_precision)
    print("[data] reading, locating the striatum, cropping", flush=True)
    data = load_spect_data(config)  # before the run folder: missing data leaves no empty folder behind
    run_folder = RunFolder.open(config.runs_dir, ASSIGNMENT, resume=config.resume)
    run_folder.start(config)
    print(f"[run] {run_folder.path}", flush=True)
    counts = np.bincount(data.labels, minlength=len(data.class_names)).tolist()
    composition = ", ".join(f"{count} {name}" for name, count in zip(data.class_names, counts))
    print(f"[data] {data.title}: {len(data.labels)} images ({composition}); {len(data.train_index)} train / "
          f"{len(data.test_index)} test", flush=True)
    dataset = "spect-phantoms-synthetic" if data.sample else "spect"
    transfer_weights, transfer_notes = resolve_transfer_weights(config)

    cv = CrossValidation(config, data, run_folder, strategy, transfer_weights)
    normalization_rows, normalization = [], config.normalizations[0]
    if len(config.normalizations) > 1:
        normalization_rows, normalization = compare_normalizations(cv, config)
        print(f"[cv] normalisation chosen on cross-validation: {normalization}", flush=True)
    cv_rows = []
    for model in config.models:
        for imbalance in config.imbalance_strategies:
            reused = [row for row in normalization_rows
                      if (row["model"], row["imbalance"], row["normalization"]) == (model, imbalance, normalization)]
            cv_rows.append(reused[0] if reused else cv.run(model, imbalance, normalization))
    cv_baselines = cv.baselines()
    chosen = max(cv_rows, key=_by_score)
    print(f"[cv] chosen on mean cross-validated balanced accuracy: {chosen['candidate']} "
          f"({chosen['balanced_accuracy_mean']:.3f} +- {chosen['balanced_accuracy_sd'] or 0:.3f})", flush=True)

    fit, model_file, x_test, scale, validation_metrics = train_final(config, data, run_folder, strategy, chosen,
                                                                     normalization, cv)
    # The test cases are used here, once, after every choice was made by cross-validation on the training cases.
    y_train, y_test = data.labels[data.train_index], data.labels[data.test_index]
    scores = {chosen["candidate"]: scores_of(fit.model, x_test)}
    for offset, name in enumerate(BASELINES):
        scores[name] = baseline_scores(name, y_train, len(y_test), len(data.class_names), config.seed + 1000 + offset)
    rows = [_test_row(name, dataset, scores[name], data, {"model_file": None, "candidate": name})
            for name in BASELINES]
    trainable, total = count_parameters(fit.model)
    rows.append(_test_row(chosen["candidate"], dataset, scores[chosen["candidate"]], data, {
        "candidate": chosen["candidate"], "architecture": chosen["model"], "imbalance": chosen["imbalance"],
        "normalization": normalization, "model_file": model_file, "parameters": total,
        "trainable_parameters": trainable, "epochs_run": fit.epochs_run, "best_epoch": fit.best_epoch,
        "train_seconds": fit.train_seconds, "val_auc": validation_metrics["auc"],
        "val_balanced_accuracy": validation_metrics["balanced_accuracy"],
        "cv_balanced_accuracy_mean": chosen["balanced_accuracy_mean"],
        "cv_balanced_accuracy_sd": chosen["balanced_accuracy_sd"]}))
    for row in rows:
        run_folder.save_predictions(row["model"], "test", y_test, scores[row["model"]], data.class_names)

    figures = _figures(config, run_folder, data, cv_rows, cv_baselines, chosen, fit, rows, scores, normalization)
    elapsed = time.perf_counter() - started
    run_folder.write_metrics(
        rows,
        data={"title": data.title, "source": data.source, "sample": bool(data.sample), "task": data.task,
              "class_names": data.class_names, "class_counts": counts,
              "train_counts": np.bincount(y_train, minlength=len(counts)).tolist(),
              "test_counts": np.bincount(y_test, minlength=len(counts)).tolist(), "image_shape": list(data.image_shape),
              "crop_size": config.crop_size, "formats": data.formats, "skipped_files": data.skipped,
              "resized_files": data.resized},
        seed=config.seed, chosen_model=chosen["candidate"],
        selection="highest mean balanced accuracy across the cross-validation folds (ties: mean AUC)",
        normalization=normalization, normalization_scale=scale, normalization_comparison=normalization_rows,
        cross_validation={"folds": len(cv.folds), "candidates": cv_rows, "baselines": cv_baselines},
        transfer_weights={name: {"weights": transfer_weights[name], "note": note}
                          for name, note in transfer_notes.items()},
        intended_use=INTENDED_USE, wall_seconds=elapsed,
        environment={"python": platform.python_version(), "machine": platform.machine(),
                     "tensorflow": tf.__version__, "keras": keras.__version__},
    )
    run_folder.write_report(_report(config, data, rows, cv_rows, cv_baselines, normalization_rows, normalization,
                                    chosen, transfer_notes, figures, len(cv.folds), elapsed))
    return run_folder.path


# ----------------------------------------------------------------------------------------- figures


def _examples_figure(run_folder, data, config):
    """Per class: the first training image with the located striatum and the crop box, and the crop."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, len(data.examples), figsize=(2.6 * len(data.examples), 5.4), squeeze=False)
    for column, (name, image, centre) in enumerate(data.examples):
        axis = axes[0, column]
        axis.imshow(image, cmap="gray")
        half = config.crop_size / 2
        axis.add_patch(matplotlib.patches.Rectangle((centre[1] - half, centre[0] - half), config.crop_size,
                                                    config.crop_size, fill=False, edgecolor="yellow", linewidth=1))
        axis.plot(centre[1], centre[0], "+", color="red")
        axis.set_title(f"{name}: {image.shape[0]}x{image.shape[1]}", fontsize=8)
        axis.axis("off")
        crop = data.images[data.train_index[data.labels[data.train_index] == column][0], ..., 0]
        axes[1, column].imshow(crop, cmap="gray")
        axes[1, column].set_title(f"{config.crop_size}x{config.crop_size} crop", fontsize=8)
        axes[1, column].axis("off")
    path = run_folder.figures / "examples.png"
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _cv_figure(run_folder, cv_rows, cv_baselines, chosen):
    """Mean cross-validated balanced accuracy of every candidate, +- one standard deviation across folds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 0.32 * len(cv_rows) + 1.4))
    names = [row["candidate"] for row in cv_rows]
    means = [row["balanced_accuracy_mean"] or 0.0 for row in cv_rows]
    spreads = [row["balanced_accuracy_sd"] or 0.0 for row in cv_rows]
    colours = ["C0" if row["imbalance"] == "oversampling" else "C1" for row in cv_rows]
    axis.barh(range(len(names)), means, xerr=spreads, color=colours, capsize=3)
    axis.set_yticks(range(len(names)), [f"{name}{'  (chosen)' if name == chosen['candidate'] else ''}"
                                        for name in names], fontsize=7)
    for row, style in zip(cv_baselines, (":", "--")):
        axis.axvline(row["balanced_accuracy_mean"], color="grey", linestyle=style, label=row["candidate"])
    axis.invert_yaxis()
    axis.set_xlim(0, 1)
    axis.set_xlabel("balanced accuracy (mean +- sd across folds)")
    axis.legend(fontsize=7, loc="lower right")
    path = run_folder.figures / "cv_comparison.png"
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _figures(config, run_folder, data, cv_rows, cv_baselines, chosen, fit, rows, scores, normalization):
    y_test = data.labels[data.test_index]
    chosen_row = rows[-1]
    train = data.train_index
    picks = np.concatenate([train[data.labels[train] == label][:6] for label in range(len(data.class_names))])
    crops, _ = normalize(data.images[picks], normalization, reference=data.images[train])
    figures = {
        "located striatum and crop": _examples_figure(run_folder, data, config),
        f"training crops ({normalization} normalisation)": plot_image_grid(
            crops, [data.class_names[data.labels[index]] for index in picks], run_folder.figures / "crops.png",
            columns=6),
        "cross-validation comparison": _cv_figure(run_folder, cv_rows, cv_baselines, chosen),
        f"{chosen['candidate']}: confusion matrix summed over the CV folds": plot_confusion_matrix(
            chosen["confusion_matrix"], data.class_names, run_folder.figures / "confusion_cv.png",
            title=f"{chosen['candidate']}: CV folds"),
        f"{chosen['candidate']}: learning curves (final training)": plot_learning_curves(
            {chosen["candidate"]: fit.history}, run_folder.figures / "learning_curves.png", metrics=("loss", "auc")),
        f"{chosen['candidate']}: confusion matrix (test)": plot_confusion_matrix(
            chosen_row["confusion_matrix"], data.class_names, run_folder.figures / "confusion_test.png",
            title=f"{chosen['candidate']}: test"),
        f"{chosen['candidate']}: ROC (test)": plot_roc_curves(y_test, scores[chosen["candidate"]], data.class_names,
                                                              run_folder.figures / "roc_test.png", task=data.task),
    }
    return {key: path.relative_to(run_folder.path) for key, path in figures.items()}


# ------------------------------------------------------------------------------------------ report


def _spread(row, metric, digits=3):
    mean, sd = row.get(f"{metric}_mean"), row.get(f"{metric}_sd")
    if mean is None:
        return "n/a"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}" if sd is not None else f"{mean:.{digits}f}"


def _cv_table(rows, class_names):
    table = []
    for row in rows:
        recall = " / ".join(f"{row['recall_mean'][name]:.2f}" for name in class_names)
        table.append({"candidate": row["model"], "imbalance": row["imbalance"] or "-",
                      "bacc": _spread(row, "balanced_accuracy"), "f1": _spread(row, "macro_f1"),
                      "auc": _spread(row, "auc"), "recall": recall,
                      "epochs": f"{row['epochs_run_mean']:.1f}" if "epochs_run_mean" in row else "-"})
    return markdown_table(table, {"candidate": "model", "imbalance": "imbalance strategy",
                                  "bacc": "balanced accuracy", "f1": "macro F1", "auc": "AUC",
                                  "recall": f"recall ({' / '.join(class_names)})", "epochs": "epochs (mean)"})


def _report(config, data, rows, cv_rows, cv_baselines, normalization_rows, normalization, chosen, transfer_notes,
            figures, folds, elapsed):
    names = data.class_names
    counts = np.bincount(data.labels, minlength=len(names))
    train_counts = np.bincount(data.labels[data.train_index], minlength=len(names))
    test_counts = np.bincount(data.labels[data.test_index], minlength=len(names))
    composition = ", ".join(f"{name} {total} ({train}/{test})"
                            for name, total, train, test in zip(names, counts, train_counts, test_counts))
    test_table = markdown_table(
        [{**row, "recall_text": " / ".join(f"{row['recall'][name]:.2f}" for name in names)} for row in rows[::-1]],
        {"model": "model", "balanced_accuracy": "balanced accuracy", "macro_f1": "macro F1", "auc": "AUC",
         "accuracy": "accuracy", "recall_text": f"recall ({' / '.join(names)})"},
        {"balanced_accuracy": ".4f", "macro_f1": ".4f", "auc": ".4f", "accuracy": ".4f"})
    normalization_text = ""
    if normalization_rows:
        normalization_text = (f"\n### Intensity normalisation (model {normalization_rows[0]['model']}, "
                              f"{normalization_rows[0]['imbalance']})\n\n" + markdown_table(
                                  [{"normalization": row["normalization"], "bacc": _spread(row, "balanced_accuracy"),
                                    "auc": _spread(row, "auc")} for row in normalization_rows],
                                  {"normalization": "normalisation", "bacc": "balanced accuracy (CV)",
                                   "auc": "AUC (CV)"})
                              + f"\n\nUsed for every model: **{normalization}**.\n")
    transfer = "\n".join(f"- {name}: {note}" for name, note in transfer_notes.items()) or "- none trained"
    not_meaningful = any("NOT" in note for note in transfer_notes.values())
    chosen_row = rows[-1]
    binary_note = (f" Binary task: AUC is that of the positive class, {names[1]!r}." if data.task == "binary" else
                   " AUC is the macro average of the one-vs-rest AUCs.")
    skipped = "\n".join(f"- {path}: {reason}" for path, reason in data.skipped) or "none"
    resized = (f"{len(data.resized)} image(s) resized to {data.image_shape[0]}x{data.image_shape[1]} (listed in "
               "metrics.json)" if data.resized else "none")
    images = "\n".join(f"**{key}**\n\n![{key}]({path})\n" for key, path in figures.items())
    augmentation = (f"rotations up to {config.max_rotation:g} degrees, shifts up to {config.max_shift} px, intensity "
                    f"jitter +-{config.intensity_jitter:.0%}"
                    + (", left-right flips" if config.flip_left_right else ", no left-right flips")
                    if config.augment else "none")
    return f"""# Assignment 2: SPECT (DaTscan) Parkinson's-disease staging

{sample_data_banner(data.sample)}Data: {data.title}, from `{data.source}`. Classes (all / train / test):
{composition}. Formats: {', '.join(f'{count} {kind}' for kind, count in data.formats.items())}. Source images
{data.image_shape[0]}x{data.image_shape[1]} px; resized: {resized}. Unreadable files skipped: {skipped}

{INTENDED_USE}

Preprocessing: volumes reduced to the mean of {config.volume_slices} axial slices around the striatum; striatum
located (Gaussian smoothing {config.locate_sigma:g} px, intensity-weighted centroid of the brightest region);
{config.crop_size}x{config.crop_size} crop around it; **{normalization}** intensity normalisation. Augmentation:
{augmentation}.

## Model selection: {folds}-fold stratified cross-validation on the {len(data.train_index)} training cases

Mean ± standard deviation across the folds; recall is per class (mean). Each fold keeps
{config.validation_fraction:.0%} of its training part apart for early stopping on validation AUC.{binary_note}
{normalization_text}
### Models x imbalance strategies ({normalization} normalisation)

{_cv_table(cv_rows, names)}

Baselines:

{_cv_table(cv_baselines, names)}

**Chosen on mean CV balanced accuracy: {chosen['candidate']}** ({_spread(chosen, 'balanced_accuracy')}).

Transfer-learning weights:
{transfer}
{"Without ImageNet weights the transfer rows compare two more randomly initialised networks, not transfer learning."
 if not_meaningful else ""}

## Test set (used once, after the choice): {len(data.test_index)} cases

The chosen candidate was retrained on all training cases ({config.validation_fraction:.0%} kept apart for early
stopping) and saved as `{chosen_row['model_file']}`.

{test_table}

## Figures

{images}
Seed {config.seed}; whole run {elapsed:.0f} s.
"""
