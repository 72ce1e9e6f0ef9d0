"""Assignment 6's figures (training images with their masks; one crop before and after augmentation; every test
slice with its truth, prediction and errors; the attention maps; learning curves) and report.md. ``evaluate.py``
reuses the slice figure and the results table for new data. The ``draw_*`` functions return a matplotlib
``Figure`` (a notebook shows it inline); the report saves the same figures."""

import numpy as np

from common.plots import plot_learning_curves, save_figure
from common.report import INTENDED_USE, figure_list, markdown_table, precision_note, sample_data_banner
from common.segmentation import random_crop

from .data import augmented_crop, level_multiple
from .model import attention_maps

# The U-Net paper's result on the ISBI 2012 challenge's own test volume (Ronneberger et al., MICCAI 2015,
# Table 1). Those 30 slices' labels are not public: the split here is another one (held-out training slices).
PAPER = {"model": "U-Net, Ronneberger et al. 2015 (challenge test set, another split)", "pixel_error": 0.0611,
         "adapted_rand_error": 0.0382, "warping_error": 0.000353}
RESULT_COLUMNS = {"model": "model", "pixel_error": "pixel error", "adapted_rand_error": "adapted Rand error",
                  "dice": "Dice per class", "mean_iou": "mean IoU", "parameters": "parameters",
                  "train_seconds": "training (s)", "epochs_run": "epochs", "predict_seconds_per_case": "s / test case"}
RESULT_FORMATS = {"pixel_error": ".4f", "adapted_rand_error": ".4f", "mean_iou": ".4f", "parameters": ",d",
                  "train_seconds": ".0f", "predict_seconds_per_case": ".2f", "warping_error": ".6f"}


def _middle(volume_or_image):
    """A 2D view: the image itself, or the middle axial slice of a volume (D, H, W)."""
    return volume_or_image if volume_or_image.ndim == 2 else volume_or_image[volume_or_image.shape[0] // 2]


# The colours of the classes drawn over an image (every class but the picture's background, the most frequent one),
# and their opacity: enough to see the mask, little enough to see the structure under it.
MASK_COLOURS = ((1.0, 0.15, 0.15), (0.2, 0.5, 1.0), (1.0, 0.85, 0.1), (0.3, 0.85, 0.3))
MASK_OPACITY = 0.45


def mask_overlay(image, mask, background):
    """The grey ``image`` (H, W) in [0, 1] as RGB (H, W, 3) with every class of ``mask`` (H, W) but ``background``
    tinted in its colour of ``MASK_COLOURS`` (in order of the class index)."""
    picture = np.repeat(np.clip(image, 0.0, 1.0)[..., None], 3, axis=-1)
    others = [label for label in range(int(mask.max()) + 1) if label != background]
    for label, colour in zip(others, MASK_COLOURS):
        chosen = mask == label
        picture[chosen] = (1.0 - MASK_OPACITY) * picture[chosen] + MASK_OPACITY * np.array(colour)
    return picture


def _mask_legend(figure, class_names, background):
    """The legend of ``mask_overlay``'s colours at the foot of ``figure``."""
    from matplotlib.patches import Patch

    others = [name for label, name in enumerate(class_names) if label != background]
    handles = [Patch(color=colour, alpha=MASK_OPACITY, label=name) for name, colour in zip(others, MASK_COLOURS)]
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False,
                  title=f"mask over the image ({class_names[background]}: not tinted)", title_fontsize=8)


def draw_masks(data, cases=2):
    """The first ``cases`` training images (volumes: their middle axial slice), each beside itself with its mask
    over it (``mask_overlay``; the most frequent class of the training masks is left untinted); returns a
    ``Figure``."""
    from matplotlib.figure import Figure

    background = int(np.argmax(np.bincount(data.y_train.ravel(), minlength=len(data.class_names))))
    cases = min(cases, len(data.x_train))
    shown = "image" if data.dimensions == 2 else "volume, middle slice"
    figure = Figure(figsize=(6.4, 3.5 * cases + 0.5))
    axes = figure.subplots(cases, 2, squeeze=False)
    for row in range(cases):
        image, mask = _middle(data.x_train[row, ..., 0]), _middle(data.y_train[row])
        axes[row, 0].imshow(image, cmap="gray", vmin=0, vmax=1)
        axes[row, 0].set_title(f"training {shown} {data.names['train'][row]}, {image.shape[0]} x {image.shape[1]} px",
                               fontsize=8)
        axes[row, 1].imshow(mask_overlay(image, mask, background), interpolation="nearest")
        axes[row, 1].set_title("with its mask", fontsize=8)
        for axis in axes[row]:
            axis.axis("off")
    _mask_legend(figure, data.class_names, background)
    figure.tight_layout(rect=(0, 0.5 / figure.get_figheight(), 1, 1))
    return figure


def draw_augmentation(data, config, copies=3, seed=0):
    """One random training crop before augmentation and ``copies`` augmented copies of it, each made by
    ``data.augmented_crop`` (the training's own transform, given the whole crop so that it only augments), the
    image above the image with its mask: the mask must follow the image. Volumes: the middle axial slice.
    Returns a ``Figure``."""
    from matplotlib.figure import Figure

    rng = np.random.default_rng(seed)
    _, crop = level_multiple(config, data.dimensions)
    image, mask = random_crop(data.x_train[0], data.y_train[0], (crop,) * data.dimensions, rng)
    pairs = [(image, mask)] + [augmented_crop(image, mask, mask.shape, config, rng) for _ in range(copies)]
    background = int(np.argmax(np.bincount(data.y_train.ravel(), minlength=len(data.class_names))))
    figure = Figure(figsize=(2.4 * len(pairs), 5.4))
    axes = figure.subplots(2, len(pairs), squeeze=False)
    for column, (picture, labels) in enumerate(pairs):
        picture, labels = _middle(picture[..., 0]), _middle(labels)
        axes[0, column].imshow(picture, cmap="gray", vmin=0, vmax=1)
        axes[0, column].set_title("before: a random crop" if column == 0 else f"augmented copy {column}", fontsize=8)
        axes[1, column].imshow(mask_overlay(picture, labels, background), interpolation="nearest")
        for axis in axes[:, column]:
            axis.axis("off")
    elastic = f"elastic {config.elastic_alpha:g} px rms over {config.elastic_sigma:g} px" if config.elastic_alpha \
        else "no elastic deformation"
    figure.suptitle(f"A {crop}-px crop of training image {data.names['train'][0]} (top), with its mask (below); "
                    f"flips and turns {'on' if config.flips else 'off'}, {elastic}", fontsize=9)
    _mask_legend(figure, data.class_names, background)
    figure.tight_layout(rect=(0, 0.5 / figure.get_figheight(), 1, 1))
    return figure


def data_figures(run, config, data):
    """``draw_masks`` and ``draw_augmentation`` saved in the run's figures/; returns {caption: path}."""
    return {"training images with their masks": save_figure(draw_masks(data), run.figures / "training_masks.png",
                                                            dpi=90),
            "augmentation: one training crop before and after": save_figure(
                draw_augmentation(data, config), run.figures / "augmentation.png", dpi=90)}


def plot_cases(images, truths, predictions, names, class_names, path, title):
    """One row per case: image, ground truth, prediction, and the errors (red: a pixel of the last class
    missed, blue: a pixel wrongly given it, yellow: other confusions, with three classes or more) over the
    image."""
    import matplotlib.pyplot as plt

    rows = len(images)
    figure, axes = plt.subplots(rows, 4, figsize=(12, 3.1 * rows), squeeze=False)
    last = len(class_names) - 1
    shades = f"dark: {class_names[0]}, light: {class_names[last]}"
    for row, (image, truth, predicted, name) in enumerate(zip(images, truths, predictions, names)):
        image, truth, predicted = _middle(image[..., 0]), _middle(truth), _middle(predicted)
        overlay = np.repeat(image[..., None], 3, axis=-1) * 0.6
        missed = (truth == last) & (predicted != last)
        wrongly = (truth != last) & (predicted == last)
        other = (truth != predicted) & ~missed & ~wrongly
        overlay[missed], overlay[wrongly], overlay[other] = (1.0, 0.1, 0.1), (0.2, 0.4, 1.0), (1.0, 0.9, 0.1)
        error = float((truth != predicted).mean())
        panels = ((image, "gray", f"{name}: image"), (truth, "viridis", f"ground truth ({shades})"),
                  (predicted, "viridis", "prediction"), (overlay, None, f"errors ({error:.1%} of pixels)"))
        for axis, (picture, cmap, caption) in zip(axes[row], panels):
            axis.imshow(picture, cmap=cmap, vmin=0, vmax=None if cmap != "viridis" else last, interpolation="nearest")
            axis.set_title(caption, fontsize=9)
            axis.axis("off")
    other = ", yellow: other confusions" if last > 1 else ""
    figure.suptitle(f"{title}   (errors: red: {class_names[last]} missed, blue: {class_names[last]} wrongly "
                    f"predicted{other})", fontsize=10)
    # Leave the top band to the title, so that it does not run into the first row's captions.
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.4 / figure.get_figheight()))
    save_figure(figure, path, dpi=90)
    plt.close(figure)
    return path


def plot_attention(model, filters, image, path, crop):
    """The attention gates' maps (finest level first) on a centre crop of one test image."""
    import matplotlib.pyplot as plt

    spatial = image.shape[:-1]
    window = tuple(slice((side - crop) // 2, (side - crop) // 2 + crop) for side in spatial)
    tile = image[window][None]
    maps = attention_maps(model, filters, tile)
    figure, axes = plt.subplots(1, len(maps) + 1, figsize=(3.2 * (len(maps) + 1), 3.4), squeeze=False)
    axes[0][0].imshow(_middle(tile[0, ..., 0]), cmap="gray")
    axes[0][0].set_title("test image (centre crop)", fontsize=9)
    for axis, (name, values) in zip(axes[0][1:], maps.items()):
        shown = axis.imshow(_middle(values[0, ..., 0]), cmap="magma", vmin=0, vmax=1)
        axis.set_title(f"{name} ({values.shape[1]} px)", fontsize=9)
        figure.colorbar(shown, ax=axis, fraction=0.046)
    for axis in axes[0]:
        axis.axis("off")
    figure.suptitle("Attention U-Net: how much of each skip connection passes (1 = all)", fontsize=10)
    figure.tight_layout()
    save_figure(figure, path, dpi=90)
    plt.close(figure)
    return path


def results_rows(rows):
    """The result rows with their per-class Dice as one text column."""
    return [{**row, "dice": ", ".join(f"{name} {stats['dice']:.4f}" for name, stats in row["per_class"].items()
                                      if stats["dice"] is not None)} for row in rows]


def make_figures(config, run, data, fits, rows, scores):
    """Every figure of the report; returns {caption: path relative to the run folder}."""
    figures = {**data_figures(run, config, data), "learning curves (loss, pixel accuracy)": plot_learning_curves(
        {name: fit.history for name, fit in fits.items()}, run.figures / "learning_curves.png")}
    shown = slice(0, config.figure_cases)
    for row in rows:
        name = row["model"]
        figures[f"{name}: test cases, truth, prediction and errors"] = plot_cases(
            data.x_test[shown], data.y_test[shown], scores[name][shown].argmax(axis=-1), data.names["test"][shown],
            data.class_names, run.figures / f"test_{name}.png", f"{name} on the test cases")
    if "attention_unet" in fits:
        _, crop = level_multiple(config, data.dimensions)
        filters = config.filters if data.dimensions == 2 else config.filters_3d
        figures["Attention U-Net: attention-gate maps"] = plot_attention(
            fits["attention_unet"].model, filters, data.x_test[0], run.figures / "attention_maps.png", crop)
    return {caption: run.relative(path) for caption, path in figures.items()}


def write_report(run, config, data, fits, rows, scores, best):
    """Draw the figures and write report.md."""
    figures = make_figures(config, run, data, fits, rows, scores)
    metrics = run.read_metrics()
    table = markdown_table(results_rows(rows), RESULT_COLUMNS, RESULT_FORMATS)
    published = ""
    if data.key == "isbi2012_em":
        published = ("\nPublished for comparison (the challenge's own test volume, whose labels are not public, "
                     "so not the same split):\n\n" + markdown_table(
                         [PAPER], {"model": "model", "pixel_error": "pixel error",
                                   "adapted_rand_error": "Rand error", "warping_error": "warping error"},
                         RESULT_FORMATS) + "\n")
    return run.write_report(f"""# Assignment 6: segmentation with U-Net and Attention U-Net

{sample_data_banner(data.sample)}{INTENDED_USE}

Data: {data.describe()}. Split: {data.split}.

## Results on the test {'slices' if data.dimensions == 2 else 'volumes'} (each model scored once)

Whole {'images' if data.dimensions == 2 else 'volumes'} predicted by overlap-tiling ({config.tile_overlap:.0%}
overlap, tiles of the training crop size). Pixel error = 1 - pixel accuracy over all test pixels; Dice and IoU per
class over all test pixels pooled; the adapted Rand error (ISBI 2012's measure, scikit-image) of the connected
cell regions, the mean over the test slices. Best on validation (pixel error): **{best}**.

{table}
{published}
## Figures

{figure_list(figures)}
Seed {config.seed}; widths {', '.join(map(str, metrics.get('filters', [])))}; loss cross-entropy +
{config.dice_weight:g} x soft Dice; augmentation: flips and turns {'on' if config.flips else 'off'}, elastic
{config.elastic_alpha:g} px rms over {config.elastic_sigma:g} px; whole run {metrics['wall_seconds']:.0f} s.

{precision_note(metrics)}
""")
