"""Assignment 5's figures (training images per class; preprocessing and augmentation; learning curves,
confusion matrices, ROC, the chosen model's misclassified test images and Grad-CAM) and report.md. The
``draw_*`` functions return a matplotlib ``Figure`` (a notebook shows it inline); the report saves the same
figures."""

from pathlib import Path

import numpy as np

from common.gradcam import grad_cam, overlay
from common.plots import (
    plot_confusion_matrix,
    plot_image_grid,
    plot_learning_curves,
    plot_roc_curves,
    save_figure,
)
from common.report import INTENDED_USE, figure_list, markdown_table, precision_note, sample_data_banner

from .data import INFO
from .model import mri_augmentation


def draw_examples(data, per_class=4):
    """The first ``per_class`` training images of every class (one row each), as the model gets them; returns a
    ``Figure``."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1.9 * per_class, 2.0 * len(data.class_names) + 0.4))
    axes = figure.subplots(len(data.class_names), per_class, squeeze=False)
    for label, name in enumerate(data.class_names):
        members = np.flatnonzero(data.y_train == label)[:per_class]
        for column, axis in enumerate(axes[label]):
            axis.axis("off")
            if column < len(members):
                axis.imshow(data.x_train[members[column]].astype(np.uint8).squeeze(), cmap="gray", vmin=0, vmax=255)
                axis.set_title(f"{name}: {Path(data.train_paths[members[column]]).name}", fontsize=7)
    size = data.x_train.shape[1]
    figure.suptitle(f"Training images, {size} x {size} px as the model gets them, one row per class", fontsize=9)
    figure.tight_layout()
    return figure


def _as_stored(path):
    """The file's pixels as stored (uint8, its own size and colours), or None where PIL cannot open it (DICOM)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            return np.asarray(opened.convert("RGB") if opened.mode not in ("L", "RGB") else opened)
    except (OSError, UnidentifiedImageError):
        return None


def draw_preprocessing(data, config, copies=2, seed=0):
    """Per class, its first training file as stored (its own size and colour mode), as the model gets it (grey,
    resized to ``config.image_size``; the model rescales to [0, 1] itself) and ``copies`` augmented copies
    (``mri_augmentation``, which acts in training only); returns a ``Figure``."""
    from matplotlib.figure import Figure

    augmentation = mri_augmentation(seed=seed) if config.augment else None
    columns = 2 + (copies if augmentation is not None else 0)
    figure = Figure(figsize=(2.1 * columns, 2.4 * len(data.class_names) + 0.5))
    axes = figure.subplots(len(data.class_names), columns, squeeze=False)
    for label, name in enumerate(data.class_names):
        index = int(np.flatnonzero(data.y_train == label)[0])
        image, stored = data.x_train[index], _as_stored(data.train_paths[index])
        shown = [(stored, f"{name}: as stored\n{stored.shape[1]} x {stored.shape[0]} px, "
                          f"{'grey' if stored.ndim == 2 else 'RGB'}") if stored is not None
                 else (None, f"{name}: as stored\n(not an image PIL reads)"),
                 (image, f"model input\n{image.shape[1]} x {image.shape[0]} px, {image.shape[2]} channel(s)")]
        if augmentation is not None:
            batch = np.repeat(image[None], copies, axis=0)
            shown += [(picture, f"augmented copy {number}") for number, picture in
                      enumerate(np.asarray(augmentation(batch, training=True)), start=1)]
        for axis, (picture, caption) in zip(axes[label], shown):
            axis.axis("off")
            axis.set_title(caption, fontsize=7)
            if picture is not None:
                picture = np.clip(picture, 0, 255).astype(np.uint8)
                axis.imshow(picture.squeeze(), cmap="gray" if picture.squeeze().ndim == 2 else None, vmin=0, vmax=255)
    augmented = "rotation, zoom, shift, left-right flip, contrast" if augmentation is not None else "off"
    figure.suptitle(f"Preprocessing: every file read as {'grey' if config.channels == 1 else 'RGB'} and resized; "
                    f"augmentation: {augmented}", fontsize=8)
    figure.tight_layout()
    return figure


def data_figures(run, config, data):
    """``draw_examples`` and ``draw_preprocessing`` saved in the run's figures/; returns {caption: path}."""
    return {"training images per class": save_figure(draw_examples(data), run.figures / "training_examples.png",
                                                     dpi=100),
            "preprocessing and augmentation: one training file per class": save_figure(
                draw_preprocessing(data, config), run.figures / "preprocessing.png", dpi=100)}


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
    figures = {**data_figures(run, config, data), "learning curves (loss, accuracy)": plot_learning_curves(
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
    leakage = markdown_table([
        {"check": "Training files repeating another Training file byte for byte",
         "count": duplicates.exact_within_train},
        {"check": "Testing files repeating another Testing file byte for byte", "count": duplicates.exact_within_test},
        {"check": "Testing files byte-identical to a Training file", "count": duplicates.exact_test_in_train},
        {"check": f"Testing images with a near copy in Training (perceptual hash within {duplicates.max_distance} of "
                  "64 bits; exact copies included)", "count": duplicates.near_test_in_train},
        {"check": "Training images with a near copy earlier in Training", "count": duplicates.near_within_train},
    ], {"check": "check", "count": "count"})
    return run.write_report(f"""# Assignment 5: brain-tumour MRI classification (4 classes)

{sample_data_banner(data.sample)}Data: {title} ({data.root});
classes {', '.join(data.class_names)}; images resized to {config.image_size}x{config.image_size}, {config.channels}
channel(s). {len(data.y_train)} training / {len(data.y_val)} validation images (held out from Training) /
{len(data.y_test)} test images. Unreadable files skipped: {skipped}

{INTENDED_USE}

## Leakage check: duplicates between Training and Testing

{leakage}

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

{precision_note(metrics)}
""")
