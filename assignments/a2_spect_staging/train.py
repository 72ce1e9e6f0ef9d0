"""Assignment 2, the experiment: read and crop the SPECT images; compare two intensity normalisations, then the
models x two class-imbalance strategies by stratified k-fold cross-validation on the training cases; choose the
best pair on mean cross-validated balanced accuracy, retrain it on all training cases, and evaluate it once on
the held-out test cases beside the majority-class and chance baselines. ``report.py`` draws the figures and
writes the report.

    python -m assignments.a2_spect_staging                       synthetic DaTscan-like phantoms
    python -m assignments.a2_spect_staging --data /path/to/pngs  your root/<stage>/*.png (or a CSV path,label)
"""

import json
import time

import numpy as np

from common.atomic import write_json
from common.cross_validation import BASELINES, ResettableModel, baseline_scores, fold_count, summarise_folds
from common.datasets.splits import stratified_kfold, stratified_split
from common.evaluate import evaluate_predictions
from common.models.transfer import choose_transfer_weights
from common.profiling import count_parameters
from common.reproducibility import set_seed
from common.results import score_split
from common.run import start_run
from common.tf_setup import import_tensorflow_quietly
from common.train import ValidationAUC, fit_model, predict_scores, recalibrate_batch_norm, save_final_model

from .config import ASSIGNMENT, TRANSFER_MODELS
from .data import load_spect_data, normalize, training_dataset
from .model import FROM_SCRATCH_CNNS, build_model, compile_classifier, learning_rate_for
from .report import write_report

import_tensorflow_quietly()
import keras  # noqa: E402  (TensorFlow first, quietly)

# Predictions in batches of one size (the last one padded), so that a model's prediction step is compiled once,
# not once per fold.
PREDICT_BATCH = 64


def candidate_name(model, imbalance):
    """The name of one (model, imbalance strategy) pair, e.g. "compact_vgg16-oversampling"."""
    return f"{model}-{imbalance}"


def _by_score(row):
    return (row["balanced_accuracy_mean"] or 0.0, row["auc_mean"] or 0.0)


def choose_transfer_models(config, data):
    """{model: TransferWeights} for the transfer models the run lists (see ``choose_transfer_weights``)."""
    def probe(name):
        return lambda: build_model(name, data.images.shape[1:], len(data.class_names), config, "imagenet")

    return {name: choose_transfer_weights(config.transfer_weights, probe(name), "--transfer-weights")
            for name in config.models if name in TRANSFER_MODELS}


class CrossValidation:
    """Stratified k-fold cross-validation of (model, imbalance, normalisation) candidates on the training cases.
    Every fold's result is written to ``<run>/cross_validation/``, so that ``--resume`` skips it."""

    def __init__(self, config, data, run, strategy, transfer):
        self.config, self.data, self.strategy, self.transfer = config, data, strategy, transfer
        self.x, self.y = data.images[data.train_index], data.labels[data.train_index]
        self.folds = stratified_kfold(self.y, fold_count(config.folds, self.y, data.class_names), seed=config.seed)
        self.folder = run.path / "cross_validation"
        self.folder.mkdir(exist_ok=True)
        self.models, self._normalised = {}, {}

    def model(self, name):
        """The ``ResettableModel`` of architecture ``name``, built on first use from the same random state."""
        if name not in self.models:
            set_seed(self.config.seed)
            weights = self.transfer[name].weights if name in self.transfer else None
            num_classes = len(self.data.class_names)
            self.models[name] = ResettableModel(lambda: compile_classifier(
                build_model(name, self.x.shape[1:], num_classes, self.config, weights),
                learning_rate_for(name, self.config)), self.strategy, self.config.batch_size)
        return self.models[name]

    def fold_data(self, fold, normalization):
        """Normalised (x_train, y_train, x_held_out, y_held_out) of one fold; "dataset" statistics come from the
        fold's training part only. Only the latest fold is kept: candidates run fold after fold."""
        key = (fold, normalization)
        if key not in self._normalised:
            train, held_out = self.folds[fold]
            x_train, _ = normalize(self.x[train], normalization, reference=self.x[train])
            x_held_out, _ = normalize(self.x[held_out], normalization, reference=self.x[train])
            self._normalised = {key: (x_train, self.y[train], x_held_out, self.y[held_out])}
        return self._normalised[key]

    def train_and_score(self, name, imbalance, fold, normalization):
        """Train ``name`` on a fold's training part from its initial weights (a stratified share kept apart for
        early stopping on the exact validation AUC) and score the fold's held-out cases."""
        config, task = self.config, self.data.task
        x_train, y_train, x_held_out, y_held_out = self.fold_data(fold, normalization)
        seed = config.seed + fold
        keep, validation = stratified_split(y_train, config.validation_fraction, seed=seed)
        model = self.model(name).reset()
        started = time.perf_counter()
        history = model.fit(
            training_dataset(x_train[keep], y_train[keep], len(self.data.class_names), imbalance, config, seed),
            validation_data=(x_train[validation], np.eye(len(self.data.class_names), dtype=np.float32)[
                y_train[validation]]), epochs=config.epochs, verbose=config.verbose, shuffle=False, callbacks=[
                ValidationAUC(x_train[validation], y_train[validation], task, PREDICT_BATCH),
                keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=config.patience,
                                              restore_best_weights=True),
                keras.callbacks.ReduceLROnPlateau(monitor="val_auc", mode="max", factor=0.5,
                                                  patience=config.reduce_lr_patience)]).history
        if config.recalibrate_batch_norm and name in FROM_SCRATCH_CNNS:
            recalibrate_batch_norm(model, x_train[keep])
        values = history.get("val_auc", [0.0])
        result = evaluate_predictions(y_held_out, predict_scores(model, x_held_out, PREDICT_BATCH), task,
                                      self.data.class_names)
        return {**result, "epochs_run": len(values), "best_epoch": int(np.nanargmax(values)) + 1,
                "train_seconds": time.perf_counter() - started}

    def candidate(self, name, imbalance, normalization):
        """Cross-validate one candidate; returns its summary row (``summarise_folds``)."""
        results = []
        for fold in range(len(self.folds)):
            path = self.folder / f"{candidate_name(name, imbalance)}_{normalization}_fold{fold + 1}.json"
            if self.config.resume and path.exists():
                results.append(json.loads(path.read_text()))
                continue
            print(f"[cv] {candidate_name(name, imbalance)} ({normalization} normalisation): fold {fold + 1} of "
                  f"{len(self.folds)}", flush=True)
            results.append(self.train_and_score(name, imbalance, fold, normalization))
            write_json(path, results[-1])
        return {"candidate": candidate_name(name, imbalance), "model": name, "imbalance": imbalance,
                "normalization": normalization, **summarise_folds(results, self.data.class_names)}

    def baselines(self):
        """The majority-class and chance baselines, scored on the same folds."""
        rows = []
        for name in BASELINES:
            results = [evaluate_predictions(self.y[held_out], baseline_scores(
                name, self.y[train], len(held_out), len(self.data.class_names), self.config.seed + fold),
                self.data.task, self.data.class_names) for fold, (train, held_out) in enumerate(self.folds)]
            rows.append({"candidate": name, "model": name, "imbalance": "", "normalization": "",
                         **summarise_folds(results, self.data.class_names)})
        return rows


def cross_validate(cv, config, models):
    """Choose the normalisation with the first model and strategy, then cross-validate every (model, strategy)
    with it; returns (normalisation rows, normalisation, candidate rows)."""
    first = (models[0], config.imbalance_strategies[0])
    normalization_rows = ([cv.candidate(*first, normalization) for normalization in config.normalizations]
                          if len(config.normalizations) > 1 else [])
    normalization = max(normalization_rows, key=_by_score)["normalization"] if normalization_rows else \
        config.normalizations[0]
    print(f"[cv] normalisation: {normalization}", flush=True)
    done = {(row["model"], row["imbalance"]): row for row in normalization_rows
            if row["normalization"] == normalization}
    rows = [done.get((name, imbalance)) or cv.candidate(name, imbalance, normalization)
            for name in models for imbalance in config.imbalance_strategies]
    return normalization_rows, normalization, rows


def train_final(config, data, run, strategy, chosen, normalization, cv):
    """Retrain the chosen candidate on all training cases (a stratified share kept apart for early stopping) from
    the initial weights it had in cross-validation; returns (FitResult, model file, normalised test images,
    scale, validation metrics)."""
    num_classes = len(data.class_names)
    x_all, y_all = data.images[data.train_index], data.labels[data.train_index]
    x_normalised, scale = normalize(x_all, normalization, reference=x_all)
    x_test, _ = normalize(data.images[data.test_index], normalization, reference=x_all)
    keep, validation = stratified_split(y_all, config.validation_fraction, seed=config.seed)
    set_seed(config.seed)
    dataset = training_dataset(x_normalised[keep], y_all[keep], num_classes, chosen["imbalance"], config, config.seed)
    print(f"[final] retraining {chosen['candidate']} on all {len(y_all)} training cases", flush=True)
    fit = fit_model(cv.model(chosen["model"]).reset, dataset,
                    (x_normalised[validation], np.eye(num_classes, dtype=np.float32)[y_all[validation]]),
                    run.model_folder(chosen["candidate"]), epochs=config.epochs, batch_size=config.batch_size,
                    monitor="val_auc", mode="max",
                    patience=config.patience, reduce_lr_patience=config.reduce_lr_patience, strategy=strategy,
                    resume=config.resume, verbose=config.verbose, tensorboard=config.tensorboard, task=data.task)
    model_file = fit.folder / "best.keras"
    if config.recalibrate_batch_norm and chosen["model"] in FROM_SCRATCH_CNNS:
        model_file = save_final_model(fit, x_normalised[keep])
    validation_metrics = evaluate_predictions(y_all[validation], predict_scores(
        fit.model, x_normalised[validation], PREDICT_BATCH), data.task, data.class_names)
    return fit, run.relative(model_file), x_test, scale, validation_metrics


def evaluate_on_test(config, data, run, chosen, fit, model_file, x_test, validation, normalization):
    """The test cases' one use: the chosen model and the two baselines; returns (rows, scores)."""
    y_train, y_test = data.labels[data.train_index], data.labels[data.test_index]
    scores = {name: baseline_scores(name, y_train, len(y_test), len(data.class_names), config.seed + 1000 + offset)
              for offset, name in enumerate(BASELINES)}
    scores[chosen["candidate"]] = predict_scores(fit.model, x_test, PREDICT_BATCH)
    trainable, total = count_parameters(fit.model)
    extra = {chosen["candidate"]: {
        "model_file": model_file, "architecture": chosen["model"], "imbalance": chosen["imbalance"],
        "normalization": normalization, "parameters": total, "trainable_parameters": trainable,
        "epochs_run": fit.epochs_run, "best_epoch": fit.best_epoch, "train_seconds": fit.train_seconds,
        "val_auc": validation["auc"], "val_balanced_accuracy": validation["balanced_accuracy"],
        "cv_balanced_accuracy_mean": chosen["balanced_accuracy_mean"],
        "cv_balanced_accuracy_sd": chosen["balanced_accuracy_sd"]}}
    rows = [score_split(run, name, "test", y_test, scores[name], task=data.task, class_names=data.class_names,
                        dataset=data.dataset, candidate=name, **extra.get(name, {})) for name in scores]
    for row in rows:
        row["recall"] = {label: stats["recall"] for label, stats in row["per_class"].items()}
    return rows, scores


def run(config):
    """Run assignment 2 end to end; returns the run folder (a ``pathlib.Path``)."""
    session = start_run(config)
    print("[data] reading, locating the striatum, cropping", flush=True)
    data = load_spect_data(config)
    run = session.open_folder(ASSIGNMENT)
    print(f"[data] {data.describe()}", flush=True)
    transfer = choose_transfer_models(config, data)
    models = [name for name in config.models if name not in transfer or transfer[name].train]
    for name, choice in transfer.items():
        print(f"[transfer] {name}: {choice.note}", flush=True)

    cv = CrossValidation(config, data, run, session.strategy, transfer)
    normalization_rows, normalization, cv_rows = cross_validate(cv, config, models)
    cv_baselines = cv.baselines()
    chosen = max(cv_rows, key=_by_score)
    print(f"[cv] chosen on mean cross-validated balanced accuracy: {chosen['candidate']} "
          f"({chosen['balanced_accuracy_mean']:.3f} +- {chosen['balanced_accuracy_sd'] or 0:.3f})", flush=True)

    fit, model_file, x_test, scale, validation = train_final(config, data, run, session.strategy, chosen,
                                                             normalization, cv)
    # The test cases are used here, once, after every choice was made by cross-validation on the training cases.
    rows, scores = evaluate_on_test(config, data, run, chosen, fit, model_file, x_test, validation, normalization)
    run.write_metrics(
        rows, data=data.summary(), chosen_model=chosen["candidate"],
        selection="highest mean balanced accuracy across the cross-validation folds (ties: mean AUC)",
        normalization=normalization, normalization_scale=scale, normalization_comparison=normalization_rows,
        cross_validation={"folds": len(cv.folds), "candidates": cv_rows, "baselines": cv_baselines},
        transfer_weights={name: {"weights": choice.weights, "trained": choice.train, "note": choice.note}
                          for name, choice in transfer.items()})
    write_report(run, config, data, normalization_rows, normalization, cv_rows, cv_baselines, chosen, fit, rows,
                 scores, transfer)
    return run.path
