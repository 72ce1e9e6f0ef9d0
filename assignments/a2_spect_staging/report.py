"""Assignment 2's figures (located striatum and crop, crops, the cross-validation comparison, confusion matrices,
learning curves, ROC) and report.md."""

from pathlib import Path

import numpy as np

from common.datasets.volumes import load_volume
from common.planes import plot_planes
from common.plots import (
    plot_confusion_matrix,
    plot_image_grid,
    plot_learning_curves,
    plot_roc_curves,
    save_figure,
)
from common.report import INTENDED_USE, figure_list, markdown_table, precision_note, sample_data_banner

from .data import normalize, volume_cases

STRATEGY_COLOURS = {"oversampling": "C0", "class_weight": "C1"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_preprocessing(data, config):
    """Per class (columns), the first training case before and after preprocessing: the source image with the
    located striatum (+) and the crop box, the crop in grey levels, and the crop after each of the two
    intensity normalisations (per image; dataset-wide, from the training crops), both shown on one scale from 0
    to 1. Returns a matplotlib ``Figure`` (a notebook shows it inline)."""
    import matplotlib.patches
    from matplotlib.figure import Figure

    picks = [data.train_index[data.labels[data.train_index] == label][0] for label in range(len(data.examples))]
    crops = data.images[picks]
    per_image, _ = normalize(crops, "per_image")
    dataset, scale = normalize(crops, "dataset", reference=data.images[data.train_index])
    figure = Figure(figsize=(2.6 * len(data.examples), 10.4))
    axes = figure.subplots(4, len(data.examples), squeeze=False)
    half = config.crop_size / 2
    for column, (name, image, centre) in enumerate(data.examples):
        axes[0, column].imshow(image, cmap="gray")
        axes[0, column].add_patch(matplotlib.patches.Rectangle(
            (centre[1] - half, centre[0] - half), config.crop_size, config.crop_size, fill=False, edgecolor="yellow",
            linewidth=1))
        axes[0, column].plot(centre[1], centre[0], "+", color="red")
        axes[0, column].set_title(f"{name}: {image.shape[0]}x{image.shape[1]}, centre +", fontsize=8)
        axes[1, column].imshow(crops[column, ..., 0], cmap="gray")
        axes[1, column].set_title(f"{config.crop_size}x{config.crop_size} crop, grey levels "
                                  f"{crops[column].min():.0f}-{crops[column].max():.0f}", fontsize=8)
        rows = ((per_image, "per image"), (dataset, f"dataset-wide (/ {scale:.0f})"))
        for row, (normalised, label) in enumerate(rows, start=2):
            axes[row, column].imshow(normalised[column, ..., 0], cmap="gray", vmin=0.0, vmax=1.0)
            axes[row, column].set_title(f"{label}: max {normalised[column].max():.2f}", fontsize=8)
        for axis in axes[:, column]:
            axis.axis("off")
    figure.suptitle("Located striatum and crop; the two intensity normalisations (rows 3-4, scale 0-1)\n"
                    "radiological view: anterior up, the patient's right on the image's left", fontsize=8)
    figure.tight_layout()
    return figure


def planes_figure(run, data):
    """The first volume case (NIfTI or DICOM series) in three planes, saved as figures/planes.png; returns its
    path, or None when every case is a 2D image."""
    cases = volume_cases(data)
    if not cases:
        return None
    source, name = cases[0]
    path = run.figures / "planes.png"
    plot_planes(load_volume(source), path=path, title=f"{name}: {Path(source).name}, as read (RAS+)")
    return path


def cv_figure(run, cv_rows, cv_baselines, chosen):
    """Mean cross-validated balanced accuracy of every candidate, +- one standard deviation across folds; the
    colour is the imbalance strategy, the dotted and dashed lines the two baselines."""
    import matplotlib.patches

    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6.6, 0.32 * len(cv_rows) + 1.9))
    names = [row["candidate"] for row in cv_rows]
    axis.barh(range(len(names)), [row["balanced_accuracy_mean"] or 0.0 for row in cv_rows],
              xerr=[row["balanced_accuracy_sd"] or 0.0 for row in cv_rows], capsize=3,
              color=[STRATEGY_COLOURS.get(row["imbalance"], "C2") for row in cv_rows])
    axis.set_yticks(range(len(names)), [f"{name}{'  (chosen)' if name == chosen['candidate'] else ''}"
                                        for name in names], fontsize=7)
    handles = [matplotlib.patches.Patch(color=colour, label=strategy) for strategy, colour in STRATEGY_COLOURS.items()
               if any(row["imbalance"] == strategy for row in cv_rows)]
    for row, style in zip(cv_baselines, (":", "--")):
        handles.append(axis.axvline(row["balanced_accuracy_mean"], color="grey", linestyle=style,
                                    label=f"{row['candidate']} ({row['balanced_accuracy_mean']:.2f})"))
    axis.invert_yaxis()
    axis.set_xlim(0, 1)
    axis.set_xlabel("balanced accuracy, mean ± sd across the folds")
    figure.legend(handles=handles, loc="lower center", ncol=2, fontsize=7, frameon=False)
    figure.tight_layout(rect=(0, 0.12, 1, 1))
    path = run.figures / "cv_comparison.png"
    save_figure(figure, path)
    plt.close(figure)
    return path


def make_figures(run, config, data, normalization, cv_rows, cv_baselines, chosen, fit, rows, scores):
    """Every figure of the report; returns {caption: path relative to the run folder}."""
    name, test_row = chosen["candidate"], next(row for row in rows if row["model"] == chosen["candidate"])
    train = data.train_index
    picks = np.concatenate([train[data.labels[train] == label][:6] for label in range(len(data.class_names))])
    crops, _ = normalize(data.images[picks], normalization, reference=data.images[train])
    figures = {"located striatum, crop and the two normalisations": save_figure(draw_preprocessing(data, config),
                                                                                run.figures / "examples.png")}
    planes = planes_figure(run, data)
    if planes is not None:
        figures["one volume case in three planes (as read, before the reduction to one image)"] = planes
    figures |= {
        f"training crops ({normalization} normalisation)": plot_image_grid(
            crops, [data.class_names[data.labels[index]] for index in picks], run.figures / "crops.png", columns=6),
        "cross-validation comparison": cv_figure(run, cv_rows, cv_baselines, chosen),
        f"{name}: confusion matrix summed over the CV folds": plot_confusion_matrix(
            chosen["confusion_matrix"], data.class_names, run.figures / "confusion_cv.png", title=f"{name}: CV folds"),
        f"{name}: learning curves (final training)": plot_learning_curves(
            {name: fit.history}, run.figures / "learning_curves.png", metrics=("loss", "auc")),
        f"{name}: confusion matrix (test)": plot_confusion_matrix(
            test_row["confusion_matrix"], data.class_names, run.figures / "confusion_test.png", title=f"{name}: test"),
        f"{name}: ROC (test)": plot_roc_curves(data.labels[data.test_index], scores[name], data.class_names,
                                               run.figures / "roc_test.png", task=data.task, model_name=name),
    }
    return {caption: run.relative(path) for caption, path in figures.items()}


def _spread(row, metric, digits=3):
    mean, sd = row.get(f"{metric}_mean"), row.get(f"{metric}_sd")
    if mean is None:
        return "n/a"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}" if sd is not None else f"{mean:.{digits}f}"


def _cv_table(rows, class_names):
    table = [{"candidate": row["model"], "imbalance": row["imbalance"] or "-",
              "bacc": _spread(row, "balanced_accuracy"), "f1": _spread(row, "macro_f1"), "auc": _spread(row, "auc"),
              "recall": " / ".join(f"{row['recall_mean'][name]:.2f}" for name in class_names),
              "epochs": f"{row['epochs_run_mean']:.1f}" if "epochs_run_mean" in row else "-"} for row in rows]
    return markdown_table(table, {"candidate": "model", "imbalance": "imbalance strategy",
                                  "bacc": "balanced accuracy", "f1": "macro F1", "auc": "AUC",
                                  "recall": f"recall ({' / '.join(class_names)})", "epochs": "epochs (mean)"})


def _normalization_section(normalization_rows, normalization):
    if not normalization_rows:
        return ""
    first = normalization_rows[0]
    table = markdown_table([{"normalization": row["normalization"], "bacc": _spread(row, "balanced_accuracy"),
                             "auc": _spread(row, "auc")} for row in normalization_rows],
                           {"normalization": "normalisation", "bacc": "balanced accuracy (CV)", "auc": "AUC (CV)"})
    return (f"\n### Intensity normalisation (model {first['model']}, {first['imbalance']})\n\n{table}\n\n"
            f"Used for every model: **{normalization}**.\n")


def write_report(run, config, data, normalization_rows, normalization, cv_rows, cv_baselines, chosen, fit, rows,
                 scores, transfer):
    """Draw the figures and write report.md."""
    figures = make_figures(run, config, data, normalization, cv_rows, cv_baselines, chosen, fit, rows, scores)
    metrics = run.read_metrics()
    names = data.class_names
    composition = ", ".join(f"{name} {total} ({train}/{test})" for name, total, train, test in zip(
        names, data.counts(), data.counts(data.train_index), data.counts(data.test_index)))
    test_table = markdown_table(
        [{**row, "recall_text": " / ".join(f"{row['recall'][name]:.2f}" for name in names)} for row in rows[::-1]],
        {"model": "model", "balanced_accuracy": "balanced accuracy", "macro_f1": "macro F1", "auc": "AUC",
         "accuracy": "accuracy", "recall_text": f"recall ({' / '.join(names)})"},
        {"balanced_accuracy": ".4f", "macro_f1": ".4f", "auc": ".4f", "accuracy": ".4f"})
    transfer_text = "\n".join(f"- {name}: {choice.note}" for name, choice in transfer.items()) or "- none listed"
    chosen_row = next(row for row in rows if row["model"] == chosen["candidate"])
    binary_note = (f" Binary task: AUC is that of the positive class, {names[1]!r}." if data.task == "binary" else
                   " AUC is the macro average of the one-vs-rest AUCs.")
    skipped = "\n".join(f"- {path}: {reason}" for path, reason in data.skipped) or "none"
    resized = (f"{len(data.resized)} image(s) resized to {data.image_shape[0]}x{data.image_shape[1]} (listed in "
               "metrics.json)" if data.resized else "none")
    augmentation = (f"rotations up to {config.max_rotation:g} degrees, shifts up to {config.max_shift} px, intensity "
                    f"jitter ±{config.intensity_jitter:.0%}"
                    + (", left-right flips" if config.flip_left_right else ", no left-right flips")
                    if config.augment else "none")
    folds = metrics["cross_validation"]["folds"]
    return run.write_report(f"""# Assignment 2: SPECT (DaTscan) Parkinson's-disease staging

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
{config.validation_fraction:.0%} of its training part apart for early stopping on the validation AUC.{binary_note}
{_normalization_section(normalization_rows, normalization)}
### Models x imbalance strategies ({normalization} normalisation)

{_cv_table(cv_rows, names)}

Baselines:

{_cv_table(cv_baselines, names)}

**Chosen on mean CV balanced accuracy: {chosen['candidate']}** ({_spread(chosen, 'balanced_accuracy')}).

Transfer learning:
{transfer_text}

## Test set (used once, after the choice): {len(data.test_index)} cases

The chosen candidate was retrained on all training cases ({config.validation_fraction:.0%} kept apart for early
stopping) and saved as `{chosen_row['model_file']}`.

{test_table}

## Figures

{figure_list(figures)}
Seed {config.seed}; whole run {metrics['wall_seconds']:.0f} s.

{precision_note(metrics)}
""")
