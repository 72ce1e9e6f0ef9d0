"""Assignment 1's figures (learning curves, confusion matrices, ROC curves, misclassified digits) and report.md."""

import numpy as np

from common.plots import (
    plot_confusion_matrix,
    plot_image_grid,
    plot_learning_curves,
    plot_roc_curves,
    save_figure,
)
from common.report import figure_list, markdown_table, precision_note, sample_data_banner

from .data import CLASS_NAMES
from .model import augmentation_layers

# Published reference points for USPS.
REFERENCES = [
    {"model": "Course reference: compact fully-connected net", "accuracy": 0.944,
     "source": "course handout (95% validation / 94.4% test)"},
    {"model": "LeCun et al. 1989, convolutional network", "accuracy": 0.950,
     "source": "Neural Computation 1(4), 5.0% test error"},
    {"model": "Human performance", "accuracy": 0.975, "source": "Bromley & Sackinger, ~2.5% error"},
]


def draw_examples(data, per_class=4):
    """The first ``per_class`` training digits of every class, one column per digit, as the networks receive
    them (16 x 16, 0 = background, 1 = ink); returns a matplotlib ``Figure`` (a notebook shows it inline)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(0.8 * len(CLASS_NAMES), 0.85 * per_class + 0.5))
    axes = figure.subplots(per_class, len(CLASS_NAMES), squeeze=False)
    for label, name in enumerate(CLASS_NAMES):
        for row, index in enumerate(np.flatnonzero(data.y_train == label)[:per_class]):
            axes[row, label].imshow(data.x_train[index, :, :, 0], cmap="gray", vmin=0.0, vmax=1.0)
        axes[0, label].set_title(name, fontsize=9)
    for axis in axes.ravel():
        axis.axis("off")
    figure.suptitle(f"Training digits, {per_class} per class: {data.title}", fontsize=8)
    figure.tight_layout()
    return figure


def draw_augmentation(data, count=5, copies=5, seed=0):
    """``count`` training digits as loaded (first column) and ``copies`` random shifts and rotations of each,
    drawn by the networks' own augmentation layers (``model.augmentation_layers``) as in a training batch;
    returns a matplotlib ``Figure``."""
    from matplotlib.figure import Figure

    images = data.x_train[:count]
    augment = augmentation_layers(image_side=images.shape[1], seed=seed)
    augmented = [np.asarray(augment(images, training=True)) for _ in range(copies)]
    figure = Figure(figsize=(0.95 * (copies + 1), 0.95 * count + 0.6))
    axes = figure.subplots(count, copies + 1, squeeze=False)
    for row in range(count):
        for column, batch in enumerate([images, *augmented]):
            axes[row, column].imshow(batch[row, :, :, 0], cmap="gray", vmin=0.0, vmax=1.0)
            axes[row, column].axis("off")
    axes[0, 0].set_title("as loaded", fontsize=8)
    for column in range(1, copies + 1):
        axes[0, column].set_title(f"augmented {column}", fontsize=8)
    figure.suptitle("Augmentation of training batches: shifts up to 1 pixel, rotations up to about 11 degrees\n"
                    "(validation and test digits are never augmented)", fontsize=8)
    figure.tight_layout()
    return figure


def make_figures(config, run, data, fits, rows, scores):
    """Every figure of the report; returns {caption: path relative to the run folder}."""
    figures = {"training digits per class": save_figure(draw_examples(data), run.figures / "examples.png")}
    if config.augment:
        figures["augmentation of training batches"] = save_figure(draw_augmentation(data),
                                                                  run.figures / "augmentation.png")
    figures["learning curves (loss, accuracy)"] = plot_learning_curves(
        {name: fit.history for name, fit in fits.items()}, run.figures / "learning_curves.png")
    for row in rows:
        name = row["model"]
        figures[f"{name}: confusion matrix (test)"] = plot_confusion_matrix(
            row["confusion_matrix"], CLASS_NAMES, run.figures / f"confusion_{name}.png", title=f"{name}: test")
        figures[f"{name}: ROC (test)"] = plot_roc_curves(data.y_test, scores[name], CLASS_NAMES,
                                                         run.figures / f"roc_{name}.png", model_name=name)
        predicted = scores[name].argmax(axis=1)
        wrong = np.flatnonzero(predicted != data.y_test)[: config.num_misclassified_shown]
        figures[f"{name}: misclassified test digits"] = plot_image_grid(
            data.x_test[wrong], [f"true {data.y_test[i]} / pred {predicted[i]}" for i in wrong],
            run.figures / f"misclassified_{name}.png")
    return {caption: run.relative(path) for caption, path in figures.items()}


def write_report(run, config, data, fits, rows, scores, tuning):
    """Draw the figures and write report.md; ``tuning`` is the search table (best first)."""
    figures = make_figures(config, run, data, fits, rows, scores)
    metrics = run.read_metrics()
    results = markdown_table(
        rows,
        {"model": "model", "accuracy": "test accuracy", "auc": "test AUC", "val_accuracy": "val accuracy",
         "parameters": "parameters", "flops_per_image": "FLOPs / image", "train_seconds": "training (s)",
         "epochs_run": "epochs", "latency_batch1_ms": "latency batch 1 (ms)",
         "latency_batched_ms_per_image": "latency batched (ms / image)"},
        {"accuracy": ".4f", "auc": ".4f", "val_accuracy": ".4f", "parameters": ",d", "flops_per_image": ",d",
         "train_seconds": ".1f", "latency_batch1_ms": ".3f", "latency_batched_ms_per_image": ".4f"},
    )
    tuning_table = markdown_table(
        tuning,
        {"trial": "trial", "hidden_units": "hidden units", "dropout_rate": "dropout",
         "learning_rate": "learning rate", "batch_size": "batch", "val_accuracy": "val accuracy",
         "best_epoch": "best epoch", "epochs_run": "epochs", "train_seconds": "training (s)",
         "parameters": "parameters"},
        {"val_accuracy": ".4f", "learning_rate": "g", "train_seconds": ".1f", "parameters": ",d"},
    )
    references = markdown_table(REFERENCES, {"model": "published reference", "accuracy": "test accuracy",
                                             "source": "source"}, {"accuracy": ".3f"})
    files = "\n".join(f"- `{name}` MD5 `{info['md5']}`" for name, info in data.files.items())
    per_class = "\n\n".join(
        f"**{row['model']}** per-class recall: " + ", ".join(
            f"{name}: {stats['recall']:.3f}" for name, stats in row["per_class"].items())
        for row in rows)
    machine = metrics["environment"]
    return run.write_report(f"""# Assignment 1: USPS digits with a compact fully-connected network

{sample_data_banner(data.sample)}Data: {data.title}; {len(data.y_train) + len(data.y_val)} training digits
({config.validation_fraction:.0%} of each class held out for validation), {len(data.y_test)} test digits.
{files}

## Results on the test split (evaluated once, after tuning on validation)

{results}

Latency is the median over {config.latency_repeats} calls of a compiled forward pass on this machine
({machine['machine']}, TensorFlow {machine['tensorflow']}); the batched figure uses batches of
{rows[0]['latency_batch_size']}. FLOPs count 2 per multiply-add of dense and convolution layers.

{per_class}

## Hyper-parameter search (random search on the validation split, best first)

{tuning_table}

## Published references for USPS

{references}

## Figures

{figure_list(figures)}
Seed {config.seed}; augmentation {'on' if config.augment else 'off'}; whole run {metrics['wall_seconds']:.0f} s.

{precision_note(metrics)}
""")
