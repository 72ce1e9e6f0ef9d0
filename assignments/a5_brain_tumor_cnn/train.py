"""Assignment 5's pipeline: load and check the data, train the CNN (and the transfer model), evaluate on
the official and the de-duplicated test set, explain with Grad-CAM, save, report.

``run(config)`` performs one whole run and returns its run folder.
"""

import platform
import time

import numpy as np

from common.evaluate import evaluate_predictions
from common.gradcam import grad_cam, overlay
from common.plots import plot_confusion_matrix, plot_image_grid, plot_learning_curves, plot_roc_curves
from common.profiling import count_parameters
from common.report import RunFolder, markdown_table, sample_data_banner, write_json
from common.reproducibility import set_seed
from common.train import fit_model, get_strategy, predict_scores, recalibrate_batch_norm, set_mixed_precision

from .config import ASSIGNMENT
from .data import INFO, load_brain_tumor_data
from .model import build_brain_tumor_cnn, build_transfer_model, compile_classifier, cosine_learning_rate
from .predict import MODEL_INFO

INTENDED_USE = "Teaching only: not a medical device, not for diagnosis."
# The model a run reports and predict uses: the best checkpoint with recalibrated batch-norm statistics.
FINAL_MODEL = "model.keras"


def _steps_per_epoch(data, config):
    return -(-len(data.y_train) // config.batch_size)


def _train_cnn(config, run_folder, strategy, data, input_shape):
    def build():
        model = build_brain_tumor_cnn(input_shape, len(data.class_names), filters=config.filters,
                                      dropout_rate=config.dropout_rate, augment=config.augment)
        schedule = cosine_learning_rate(config.learning_rate, config.epochs, _steps_per_epoch(data, config))
        return compile_classifier(model, schedule)

    print("[cnn] training the CNN from scratch", flush=True)
    return fit_model(build, (data.x_train, data.y_train), (data.x_val, data.y_val), run_folder.model_folder("cnn"),
                     epochs=config.epochs, batch_size=config.batch_size, monitor="val_accuracy",
                     patience=config.patience, strategy=strategy, resume=config.resume, verbose=config.verbose)


def _train_transfer(config, run_folder, strategy, data, input_shape):
    """Train EfficientNetB0; returns (FitResult, note on the weights actually used)."""
    weights = "imagenet" if config.transfer_weights == "imagenet" else None
    note = "ImageNet weights" if weights else "random initialisation (--transfer-weights none)"
    if weights:
        try:  # the pretrained weights need internet; without them the row is not transfer learning
            build_transfer_model(input_shape, len(data.class_names), weights="imagenet", augment=False)
        except Exception as error:  # Keras raises plain Exception for a failed download
            weights = None
            note = (f"random initialisation: the ImageNet weights could not be downloaded ({error}); this row is "
                    "NOT a transfer-learning result")

    def build():
        model = build_transfer_model(input_shape, len(data.class_names), weights=weights, augment=config.augment)
        schedule = cosine_learning_rate(config.transfer_learning_rate, config.transfer_epochs,
                                        _steps_per_epoch(data, config))
        return compile_classifier(model, schedule)

    print(f"[transfer] training EfficientNetB0 ({note})", flush=True)
    fit = fit_model(build, (data.x_train, data.y_train), (data.x_val, data.y_val),
                    run_folder.model_folder("efficientnet_b0"), epochs=config.transfer_epochs,
                    batch_size=config.batch_size, monitor="val_accuracy", patience=config.patience,
                    strategy=strategy, resume=config.resume, verbose=config.verbose)
    return fit, note


def _finalise(fit, data):
    """Recalibrate batch norm on the clean training images, save the final model; returns val accuracy.

    The checkpoint's batch-norm statistics were gathered on augmented batches; on clean images they are off
    (on real data this cost about 1.5 points of test accuracy). See ``common.train.recalibrate_batch_norm``.
    """
    recalibrate_batch_norm(fit.model, data.x_train)
    fit.model.save(fit.folder / FINAL_MODEL)
    return float((predict_scores(fit.model, data.x_val, batch_size=64).argmax(axis=1) == data.y_val).mean())


def _evaluate(name, fit, data, run_folder, dataset, val_accuracy):
    """Score one model on the official and the de-duplicated test set (its only use of the test split)."""
    scores = predict_scores(fit.model, data.x_test, batch_size=64)
    run_folder.save_predictions(name, "test", data.y_test, scores, data.class_names)
    official = evaluate_predictions(data.y_test, scores, "multi-class", data.class_names)
    keep = data.duplicates.test_keep
    deduplicated = evaluate_predictions(data.y_test[keep], scores[keep], "multi-class", data.class_names)
    run_folder.save_predictions(name, "test-deduplicated", data.y_test[keep], scores[keep], data.class_names)
    base = {"model": name, "dataset": dataset, "val_accuracy": val_accuracy,
            "val_accuracy_checkpoint": fit.best_value, "epochs_run": fit.epochs_run,
            "train_seconds": fit.train_seconds, "parameters": count_parameters(fit.model)[1],
            "model_file": str((fit.folder / FINAL_MODEL).relative_to(run_folder.path))}
    rows = [
        {**base, "split": "test", "accuracy": official["accuracy"], "auc": official["auc"],
         "macro_f1": official["macro_f1"], "num_samples": official["num_samples"],
         "per_class": official["per_class"], "confusion_matrix": official["confusion_matrix"]},
        {**base, "split": "test-deduplicated", "accuracy": deduplicated["accuracy"], "auc": deduplicated["auc"],
         "macro_f1": deduplicated["macro_f1"], "num_samples": deduplicated["num_samples"],
         "per_class": deduplicated["per_class"], "confusion_matrix": deduplicated["confusion_matrix"]},
    ]
    return rows, scores


def _save_model_info(fit, config, data, name, note=""):
    write_json(fit.folder / MODEL_INFO, {
        "model": name, "class_names": data.class_names, "image_size": config.image_size,
        "channels": config.channels, "input": "float32 (N, size, size, channels) in [0, 255]; the model rescales",
        "trained_on": "sample data" if data.sample else INFO.title, "weights_note": note,
        "intended_use": INTENDED_USE,
    })


def run(config):
    """Run assignment 5 end to end; returns the run folder (a ``pathlib.Path``)."""
    started = time.perf_counter()
    strategy = get_strategy(config.strategy)  # before any other TensorFlow work (multi-worker needs it)
    set_seed(config.seed)
    set_mixed_precision(config.mixed_precision)
    print("[data] reading images and checking for duplicates", flush=True)
    data = load_brain_tumor_data(config)
    run_folder = RunFolder.open(config.runs_dir, ASSIGNMENT, resume=config.resume)
    run_folder.start(config)
    print(f"[run] {run_folder.path}", flush=True)
    dataset = "brain_tumor_mri" if not data.sample else "brain-tumor-sample-synthetic"
    input_shape = data.x_train.shape[1:]
    print(f"[data] {len(data.y_train)} train / {len(data.y_val)} validation / {len(data.y_test)} test; "
          f"{data.duplicates.near_test_in_train} test images have a (near) copy in Training", flush=True)

    fits = {"cnn": _train_cnn(config, run_folder, strategy, data, input_shape)}
    notes = {"cnn": "from scratch"}
    if config.transfer:
        set_seed(config.seed)
        fits["efficientnet_b0"], notes["efficientnet_b0"] = _train_transfer(config, run_folder, strategy, data,
                                                                            input_shape)
    rows, scores, val_accuracy = [], {}, {}
    for name, fit in fits.items():
        val_accuracy[name] = _finalise(fit, data)
        _save_model_info(fit, config, data, name, notes[name])
        model_rows, scores[name] = _evaluate(name, fit, data, run_folder, dataset, val_accuracy[name])
        rows.extend(model_rows)
    chosen = max(fits, key=lambda name: val_accuracy[name])  # picked on validation, never on test
    figures = _figures(config, run_folder, fits, rows, scores, data)
    elapsed = time.perf_counter() - started
    run_folder.write_metrics(
        rows, data={"title": data.sample["title"] if data.sample else INFO.title, "root": str(data.root),
                    "sample": bool(data.sample), "skipped_files": data.skipped},
        duplicates=data.duplicates.to_dict(), chosen_model=chosen,
        chosen_model_file=str((fits[chosen].folder / FINAL_MODEL).relative_to(run_folder.path)),
        weights_notes=notes, seed=config.seed, wall_seconds=elapsed,
        environment={"python": platform.python_version(), "machine": platform.machine()},
    )
    run_folder.write_report(_report(config, data, rows, notes, chosen, figures, elapsed))
    return run_folder.path


def _figures(config, run_folder, fits, rows, scores, data):
    figures = {"learning curves": plot_learning_curves({name: fit.history for name, fit in fits.items()},
                                                       run_folder.figures / "learning_curves.png")}
    for row in rows:
        if row["split"] != "test":
            continue
        name = row["model"]
        figures[f"{name}: confusion matrix (official test)"] = plot_confusion_matrix(
            row["confusion_matrix"], data.class_names, run_folder.figures / f"confusion_{name}.png",
            title=f"{name}: official test")
        figures[f"{name}: ROC (official test)"] = plot_roc_curves(
            data.y_test, scores[name], data.class_names, run_folder.figures / f"roc_{name}.png")
    predicted = scores["cnn"].argmax(axis=1)
    wrong = np.flatnonzero(predicted != data.y_test)
    # Take the misclassified images class by class in turn, so that every class shows up in the gallery.
    rank_in_class = np.zeros(len(wrong), dtype=int)
    for label in range(len(data.class_names)):
        members = data.y_test[wrong] == label
        rank_in_class[members] = np.arange(members.sum())
    wrong = wrong[np.lexsort((data.y_test[wrong], rank_in_class))][: config.num_misclassified_shown]
    names = data.class_names
    figures["cnn: misclassified test images"] = plot_image_grid(
        data.x_test[wrong] / 255.0, [f"true {names[data.y_test[i]]}\npred {names[predicted[i]]}" for i in wrong],
        run_folder.figures / "misclassified_cnn.png", columns=6)
    chosen = np.concatenate([np.flatnonzero(data.y_test == label)[: config.gradcam_per_class]
                             for label in range(len(names))])
    heatmaps, classes = grad_cam(fits["cnn"].model, data.x_test[chosen])
    figures["cnn: Grad-CAM (predicted class)"] = plot_image_grid(
        np.stack([overlay(data.x_test[i], heatmap) for i, heatmap in zip(chosen, heatmaps)]),
        [f"true {names[data.y_test[i]]}\npred {names[c]}" for i, c in zip(chosen, classes)],
        run_folder.figures / "gradcam_cnn.png", columns=config.gradcam_per_class * 2)
    return {key: path.relative_to(run_folder.path) for key, path in figures.items()}


def _report(config, data, rows, notes, chosen, figures, elapsed):
    duplicates = data.duplicates
    results = markdown_table(
        rows,
        {"model": "model", "split": "test set", "num_samples": "images", "accuracy": "accuracy", "auc": "AUC",
         "macro_f1": "macro F1", "val_accuracy_checkpoint": "val accuracy (checkpoint)",
         "val_accuracy": "val accuracy (recalibrated)", "parameters": "parameters",
         "epochs_run": "epochs", "train_seconds": "training (s)"},
        {"accuracy": ".4f", "auc": ".4f", "macro_f1": ".4f", "val_accuracy": ".4f", "val_accuracy_checkpoint": ".4f",
         "parameters": ",d",
         "train_seconds": ".0f"},
    )
    per_class = "\n".join(
        f"| {row['model']} | " + " | ".join(
            f"{stats['precision']:.3f} / {stats['recall']:.3f} / {stats['f1']:.3f}"
            for stats in row["per_class"].values()) + " |"
        for row in rows if row["split"] == "test")
    header = "| model | " + " | ".join(data.class_names) + " |\n|---|" + "---|" * len(data.class_names)
    skipped = "\n".join(f"- {reason}" for _, reason in data.skipped) or "none"
    images = "\n".join(f"**{key}**\n\n![{key}]({path})\n" for key, path in figures.items())
    weights = "\n".join(f"- {name}: {note}" for name, note in notes.items())
    return f"""# Assignment 5: brain-tumour MRI classification (4 classes)

{sample_data_banner(data.sample)}Data: {data.sample['title'] if data.sample else INFO.title} ({data.root});
classes {', '.join(data.class_names)}; images resized to {config.image_size}x{config.image_size}, {config.channels}
channel(s). {len(data.y_train)} training / {len(data.y_val)} validation images (held out from Training) /
{len(data.y_test)} test images. Unreadable files skipped: {skipped}

{INTENDED_USE}

## Leakage check: duplicates between Training and Testing

| check | count |
|---|---|
| Training files repeating another Training file byte for byte | {duplicates.exact_within_train} |
| Testing files repeating another Testing file byte for byte | {duplicates.exact_within_test} |
| Testing files byte-identical to a Training file | {duplicates.exact_test_in_train} |
| Testing images with a near copy in Training (perceptual hash within {duplicates.max_distance} of 64 bits; \
exact copies included) | {duplicates.near_test_in_train} |
| Training images with a near copy earlier in Training | {duplicates.near_within_train} |

The de-duplicated test set drops every test image with an exact or near copy in Training:
{int(duplicates.test_keep.sum())} of {duplicates.test_keep.size} images remain.

## Results (the chosen model, picked on validation accuracy: **{chosen}**)

{results}

Each model is its best validation checkpoint with its batch-norm statistics re-estimated on the clean
(un-augmented) training images; "val accuracy (checkpoint)" is before that step.

Weights:
{weights}

Per-class precision / recall / F1 on the official test set:

{header}
{per_class}

## Figures

{images}
Seed {config.seed}; augmentation {'on' if config.augment else 'off'}; whole run {elapsed:.0f} s.
"""
