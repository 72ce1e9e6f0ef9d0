"""Assignment 5's figures (learning curves, confusion matrices, ROC, the chosen model's misclassified test images
and Grad-CAM) and report.md."""

import numpy as np

from common.gradcam import grad_cam, overlay
from common.plots import plot_confusion_matrix, plot_image_grid, plot_learning_curves, plot_roc_curves
from common.report import INTENDED_USE, figure_list, markdown_table, sample_data_banner

from .data import INFO


def misclassified_in_turn(y_true, predicted, count):
    """Indices of up to ``count`` misclassified images, taken class by class in turn, so that every class shows
    up in the gallery."""
    wrong = np.flatnonzero(predicted != y_true)
    rank_in_class = np.zeros(len(wrong), dtype=int)
    for label in np.unique(y_true[wrong]):
        members = y_true[wrong] == label
        rank_in_class[members] = np.arange(members.sum())
    return wrong[np.lexsort((y_true[wrong], rank_in_class))][:count]


def make_figures(run, config, data, fits, rows, scores, chosen):
    """Every figure of the report; returns {caption: path relative to the run folder}."""
    names = data.class_names
    figures = {"learning curves (loss, accuracy)": plot_learning_curves(
        {name: fit.history for name, fit in fits.items()}, run.figures / "learning_curves.png")}
    for row in rows:
        if row["split"] != "test":
            continue
        name = row["model"]
        figures[f"{name}: confusion matrix (official test)"] = plot_confusion_matrix(
            row["confusion_matrix"], names, run.figures / f"confusion_{name}.png", title=f"{name}: official test")
        figures[f"{name}: ROC (official test)"] = plot_roc_curves(data.y_test, scores[name], names,
                                                                  run.figures / f"roc_{name}.png", model_name=name)
    predicted = scores[chosen].argmax(axis=1)
    wrong = misclassified_in_turn(data.y_test, predicted, config.num_misclassified_shown)
    figures[f"{chosen} (the chosen model): misclassified test images"] = plot_image_grid(
        data.x_test[wrong] / 255.0, [f"true {names[data.y_test[i]]}\npred {names[predicted[i]]}" for i in wrong],
        run.figures / f"misclassified_{chosen}.png", columns=6)
    picks = np.concatenate([np.flatnonzero(data.y_test == label)[: config.gradcam_per_class]
                            for label in range(len(names))])
    heatmaps, classes = grad_cam(fits[chosen].model, data.x_test[picks])
    figures[f"{chosen} (the chosen model): Grad-CAM of the predicted class"] = plot_image_grid(
        np.stack([overlay(data.x_test[i], heatmap) for i, heatmap in zip(picks, heatmaps)]),
        [f"true {names[data.y_test[i]]}\npred {names[c]}" for i, c in zip(picks, classes)],
        run.figures / f"gradcam_{chosen}.png", columns=config.gradcam_per_class * 2)
    return {caption: run.relative(path) for caption, path in figures.items()}


def write_report(run, config, data, fits, rows, scores, notes, chosen, transfer):
    """Draw the figures and write report.md; ``transfer`` is how the EfficientNetB0 row was trained (None: not
    asked for)."""
    figures = make_figures(run, config, data, fits, rows, scores, chosen)
    metrics = run.read_metrics()
    duplicates = data.duplicates
    results = markdown_table(
        rows,
        {"model": "model", "split": "test set", "num_samples": "images", "accuracy": "accuracy", "auc": "AUC",
         "macro_f1": "macro F1", "val_accuracy_checkpoint": "val accuracy (checkpoint)",
         "val_accuracy": "val accuracy (recalibrated)", "parameters": "parameters", "epochs_run": "epochs",
         "train_seconds": "training (s)"},
        {"accuracy": ".4f", "auc": ".4f", "macro_f1": ".4f", "val_accuracy": ".4f", "val_accuracy_checkpoint": ".4f",
         "parameters": ",d", "train_seconds": ".0f"},
    )
    per_class = "\n".join(
        f"| {row['model']} | " + " | ".join(f"{stats['precision']:.3f} / {stats['recall']:.3f} / {stats['f1']:.3f}"
                                           for stats in row["per_class"].values()) + " |"
        for row in rows if row["split"] == "test")
    header = "| model | " + " | ".join(data.class_names) + " |\n|---|" + "---|" * len(data.class_names)
    skipped = "\n".join(f"- {reason}" for _, reason in data.skipped) or "none"
    weights = "\n".join(f"- {name}: {note}" for name, note in notes.items())
    if transfer is not None and not transfer.train:
        weights += f"\n- efficientnet_b0: {transfer.note}"
    title = data.sample["title"] if data.sample else INFO.title
    return run.write_report(f"""# Assignment 5: brain-tumour MRI classification (4 classes)

{sample_data_banner(data.sample)}Data: {title} ({data.root});
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
| Testing images with a near copy in Training (perceptual hash within {duplicates.max_distance} of 64 bits; \\
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

{figure_list(figures)}
Seed {config.seed}; augmentation {'on' if config.augment else 'off'}; whole run {metrics['wall_seconds']:.0f} s.
""")
