"""Assignment 3's figures (anatomical planes, preprocessing, learning curves, ROC, confusion matrices, Grad-CAM)
and report.md."""

import numpy as np

from common.datasets.medmnist_benchmarks import SOURCE, published_rows
from common.datasets.medmnist_info import medmnist_facts
from common.gradcam import grad_cam, overlay
from common.planes import plot_planes
from common.plots import plot_confusion_matrix, plot_learning_curves, plot_roc_comparison, save_figure
from common.report import figure_list, markdown_table, precision_note, sample_data_banner

from .model import gradcam_layer_name

# How an axial slice of the model layout (D, H, W) is shown: D runs inferior -> superior (one axial slice per
# index), H posterior -> anterior, W the patient's left -> right; radiological view puts anterior up and the
# patient's right on the image's left.
VIEW = "axial slices in radiological view: anterior up, the patient's right on the image's left"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def radiological(axial_yx):
    """An axial slice indexed (Y, X) in RAS+ (H, W of the model layout) as a radiologist views it."""
    return axial_yx[::-1, ::-1]


def draw_preprocessing(data):
    """Per class, the middle axial slice of one training case before and after preprocessing, each at its own
    size and voxel aspect (no padding); returns a matplotlib ``Figure`` (a notebook shows it inline)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.6, 2.7 * len(data.examples) + 0.6))
    axes = figure.subplots(len(data.examples), 2, squeeze=False)
    for row, (name, raw, spacing, position) in enumerate(data.examples):
        processed = data.x_train[position, :, :, :, 0]  # (D, H, W)
        raw_slice = raw[:, :, raw.shape[2] // 2].T  # RAS+ (X, Y, Z) -> axial slice (Y, X)
        axes[row, 0].imshow(radiological(raw_slice), cmap="gray", aspect=spacing[1] / spacing[0])
        axes[row, 0].set_title(f"{name}: raw, slice {raw.shape[2] // 2} of {raw.shape[2]}\n"
                               f"{raw.shape[0]} x {raw.shape[1]} voxels (X x Y)", fontsize=7)
        axes[row, 1].imshow(radiological(processed[processed.shape[0] // 2]), cmap="gray")
        axes[row, 1].set_title(f"{name}: preprocessed, slice {processed.shape[0] // 2} of {processed.shape[0]}\n"
                               f"{processed.shape[2]} x {processed.shape[1]} (W x H), as the model sees it", fontsize=7)
        for axis in axes[row]:
            axis.axis("off")
    figure.suptitle(f"Middle axial slice before and after preprocessing; {VIEW}.\nThe model's layout (D, H, W): "
                    "D inferior to superior, H posterior to anterior, W the patient's left to right.", fontsize=7)
    figure.tight_layout()
    return figure


def gradcam_figure(run, data, fits, config, slice_index):
    """Rows: test cases (a few per class); columns: the axial slice each approach's heat map peaks on (the
    single-slice model's own slice; the middle one for early fusion, whose map is one in-plane map)."""
    plt = _pyplot()
    picks = [int(index) for label in range(len(data.class_names))
             for index in np.flatnonzero(data.y_test == label)[: config.gradcam_cases_per_class]]
    if not picks or not fits:
        return None
    volumes = data.x_test[picks]
    depth, height, width = volumes.shape[1:4]
    figure, axes = plt.subplots(len(picks), len(fits), figsize=(2.3 * len(fits), 2.4 * len(picks)), squeeze=False)
    for column, (name, fit) in enumerate(fits.items()):
        two_dimensional = name in ("single_slice", "early_fusion")
        maps, classes = grad_cam(fit.model, volumes, layer_name=gradcam_layer_name(name, config.resnet_blocks),
                                 resize_to=(height, width) if two_dimensional else None)
        for row, index in enumerate(picks):
            if name == "single_slice":
                shown, heat = slice_index, maps[row]
            elif name == "early_fusion":
                shown, heat = depth // 2, maps[row]
            else:
                shown = int(np.argmax(maps[row].reshape(depth, -1).max(axis=1)))
                heat = maps[row][shown]
            axis = axes[row, column]
            axis.imshow(overlay(radiological(volumes[row, shown, ..., 0]), radiological(heat)))
            axis.set_title(f"{name}\ntrue {data.class_names[data.y_test[index]]}, "
                           f"explains {data.class_names[classes[row]]}\nslice {shown}", fontsize=7)
            axis.axis("off")
    figure.suptitle(f"Grad-CAM on test cases, {VIEW}", fontsize=7)
    figure.tight_layout()
    path = run.figures / "gradcam.png"
    save_figure(figure, path)
    plt.close(figure)
    return path


def make_figures(run, config, data, fits, rows, scores, slice_index):
    """Every figure of the report; returns {caption: path relative to the run folder}."""
    figures = {}
    for name, raw, spacing, _ in data.examples:
        path = run.figures / f"planes_{name}.png"
        plot_planes(raw, spacing=spacing, path=path, title=f"{name}: a training case before preprocessing")
        figures[f"planes: {name}"] = path
    figures["preprocessing"] = save_figure(draw_preprocessing(data), run.figures / "preprocessing.png")
    figures["learning curves (loss, exact validation AUC)"] = plot_learning_curves(
        {name: fit.history for name, fit in fits.items()}, run.figures / "learning_curves.png",
        metrics=("loss", "auc"))
    figures["ROC curves (test)"] = plot_roc_comparison(data.y_test, scores, data.class_names,
                                                        run.figures / "roc_test.png", task=data.task)
    for row in rows:
        figures[f"confusion: {row['model']}"] = plot_confusion_matrix(
            row["confusion_matrix"], data.class_names, run.figures / f"confusion_{row['model']}.png",
            title=f"{row['model']}: test")
    gradcam = gradcam_figure(run, data, fits, config, slice_index)
    if gradcam is not None:
        figures["Grad-CAM"] = gradcam
    return {caption: run.relative(path) for caption, path in figures.items()}


def _preprocessing_text(config):
    clahe = ", CLAHE per axial slice" if config.clahe else ""
    return (f"percentile window {config.window_low:g}-{config.window_high:g}{clahe}, trilinear resampling to "
            f"{config.depth} x {config.image_size} x {config.image_size} (D x H x W), {config.normalization} "
            "normalisation per volume")


def write_report(run, config, data, fits, rows, scores, best, slice_index, slice_scores):
    """Draw the figures and write report.md."""
    figures = make_figures(run, config, data, fits, rows, scores, slice_index)
    metrics = run.read_metrics()
    table = markdown_table(
        rows,
        {"model": "approach", "accuracy": "test accuracy", "auc": "test AUC", "balanced_accuracy": "balanced acc.",
         "val_auc": "val AUC", "val_accuracy": "val accuracy", "parameters": "parameters",
         "train_seconds": "training (s)", "epochs_run": "epochs", "latency_ms_per_volume": "inference (ms / volume)"},
        {"accuracy": ".4f", "auc": ".4f", "balanced_accuracy": ".4f", "val_auc": ".4f", "val_accuracy": ".4f",
         "parameters": ",d", "train_seconds": ".0f", "latency_ms_per_volume": ".1f"},
    )
    flag = config.dataset.split("_")[0]
    published = published_rows(flag) if not data.sample and not config.data else []
    references = ("\n## Published MedMNIST v2 rows for the same set (test)\n\n" + markdown_table(
        published, {"model": "model", "auc": "AUC", "accuracy": "accuracy"}, {"auc": ".3f", "accuracy": ".3f"})
        + f"\n\nSource: {SOURCE}. Those models saw 28^3 volumes.\n") if published else ""
    slice_note = (f"the middle slice ({slice_index})" if slice_scores is None else
                  f"slice {slice_index} of {data.x_train.shape[1]}, whose mean and spread separate the classes best "
                  "on the training split")
    md5 = f" (MD5 `{data.md5}`)" if data.md5 else ""
    # A MedMNIST stand-in is not brain MRI: say what it holds wherever its numbers appear.
    what = (f" **Not MRI:** {medmnist_facts(flag).source}; these numbers are on that data, not on MRI tumours."
            if not config.data and config.dataset != "synthetic" else "")
    classes = ", ".join(data.class_names)
    skipped = f"Skipped (unreadable): {len(data.skipped)} case(s), listed in metrics.json." if data.skipped else ""
    augmentation = "left-right flips and shifts of up to 2 voxels" if config.augment else "none"
    return run.write_report(f"""# Assignment 3: 3D MRI tumour detection, four approaches compared

{sample_data_banner(data.sample)}Data: {data.title}{md5}, from `{data.source}`. Classes: {classes}.{what}
Split: {data.split}: {len(data.y_train)} train / {len(data.y_val)} validation / {len(data.y_test)} test volumes.
{skipped}

Preprocessing: {_preprocessing_text(config)}. Augmentation: {augmentation}.

## Results (each approach evaluated once on test; the best named on validation AUC)

{table}

**Best on validation: {best}.** Validation AUC is the exact AUC of the checkpoint kept, the highest point of its
learning curve. Single slice uses {slice_note}. Inference time is the median of 20 calls for one volume on
this machine.
{references}
## Figures

{figure_list(figures)}
Seed {config.seed}; whole run {metrics['wall_seconds']:.0f} s.

{precision_note(metrics)}
""")
