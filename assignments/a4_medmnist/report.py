"""Assignment 4's figures (training images, augmentation before and after, learning curves, ROC, confusion
matrices, Grad-CAM grids) and its report.md. The ``draw_*`` functions return a matplotlib Figure (the notebook shows
them); the ``*_figure`` ones save them into a run folder."""

import numpy as np

from common.datasets.medmnist_benchmarks import SOURCE, published_rows
from common.gradcam import grad_cam, overlay
from common.plots import (
    plot_confusion_matrix,
    plot_image_grid,
    plot_learning_curves,
    plot_roc_comparison,
    plot_roc_curves,
    save_figure,
)
from common.report import INTENDED_USE, figure_list, markdown_table, precision_note, sample_data_banner

from .model import cnn3d_gradcam_layer, resnet_gradcam_layer


def _class_label(data, index):
    name = data.class_names[index]
    return f"grade {name}" if name.isdigit() else name


def _members(data, label, count, split="test"):
    """The first ``count`` images of ``split`` ("train" or "test") of class (or, for multi-label, with finding)
    ``label``."""
    labels = data.y_test if split == "test" else data.y_train
    hits = labels[:, label] == 1 if data.task == "multi-label" else labels == label
    return np.flatnonzero(hits)[:count]


def _shown(image):
    """An image (H, W, C) or a volume (D, H, W, 1) as matplotlib shows it: a volume by its middle slice along D,
    a grey image as (H, W); values clipped to [0, 1]."""
    image = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    if image.ndim == 4:
        image = image[image.shape[0] // 2]
    return image[..., 0] if image.shape[-1] == 1 else image


def _draw_panels(figure, panels, columns):
    """``panels``: a list of rows, each a list of (image, title); returns the axes."""
    axes = figure.subplots(len(panels), columns, squeeze=False)
    for row, entries in zip(axes, panels):
        for axis, entry in zip(row, [*entries, *[None] * (columns - len(entries))]):
            axis.axis("off")
            if entry is not None:
                image, title = entry
                image = _shown(image)
                axis.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0.0, vmax=1.0)
                axis.set_title(title, fontsize=7)
    return axes


def draw_examples(data, per_class=4):
    """The first ``per_class`` training images of every class (for a multi-label set, with every finding), one
    row per class; a volume is shown by its middle slice along D. Returns a matplotlib ``Figure``."""
    from matplotlib.figure import Figure

    panels = [[(data.x_train[index], f"{_class_label(data, label)} (#{index})")
               for index in _members(data, label, per_class, split="train")] for label in range(data.num_outputs)]
    panels = [row for row in panels if row] or [[(np.zeros((1, 1, 1)), "no images")]]
    figure = Figure(figsize=(max(1.6 * per_class + 0.4, 5.0), 1.7 * len(panels) + 0.6))
    _draw_panels(figure, panels, per_class)
    volume = data.x_train.ndim == 5
    figure.suptitle(f"{data.key}: training images, one row per class"
                    + (" (middle slice along D of each volume)" if volume else ""), fontsize=8)
    figure.tight_layout()
    return figure


def draw_augmentation(data, augmentation, seed, draws=3):
    """One training image per class before and after the training pipeline's augmentation.

    The images go through ``common.augment.augmented_dataset`` (and ``mixup_batches`` when
    ``augmentation["mixup_alpha"]`` is set), the functions training uses, ``draws`` times with new random draws
    each time, as in successive epochs. Each image carries a one-hot "label" of its own position, so that after
    shuffling and mixup the figure knows which original every output came from and how much of a partner
    mixup blended in.

    Args:
        data: a ``TaskData``; its images (N, H, W, C) or volumes (N, D, H, W, 1) in [0, 1].
        augmentation: ``augmented_dataset`` keyword arguments plus an optional ``mixup_alpha``, as
            ``A4Config.augmentation_2d()`` and ``augmentation_3d()`` give them.
        seed: the seed of the random draws (the run's seed).

    Returns:
        A matplotlib ``Figure``: the originals in the first row, one row per draw below; a volume is shown by
        its middle slice along D, as stored (rows H, columns W).
    """
    from matplotlib.figure import Figure

    from common.augment import augmented_dataset, mixup_batches

    picks, names = [], []
    for label in range(data.num_outputs):
        for index in _members(data, label, 1, split="train"):
            picks.append(int(index))
            names.append(f"#{index} ({_class_label(data, label)})")
    images, count = data.x_train[picks], len(picks)
    settings = dict(augmentation)
    mixup_alpha = settings.pop("mixup_alpha", 0.0)
    positions = np.eye(count, dtype=np.float32)
    dataset = augmented_dataset(images, positions, count, seed, **settings)
    if mixup_alpha:
        dataset = mixup_batches(dataset, mixup_alpha, seed + 1)
    panels = [[(image, f"{name}: original") for image, name in zip(images, names)]]
    for draw, (batch, shares) in enumerate(dataset.repeat(draws).as_numpy_iterator(), start=1):
        order = np.argsort(np.argmax(shares, axis=1), kind="stable")  # back to the originals' order
        row = []
        for position in order:
            share = shares[position]
            partner = int(np.argsort(share)[-2]) if count > 1 else 0
            mixed = f"\n+ {share[partner]:.0%} of {names[partner].split(' ')[0]}" if share[partner] >= 0.005 else ""
            row.append((batch[position], f"draw {draw}{mixed}"))
        panels.append(row)
    described = ", ".join(f"{key} {value}" for key, value in augmentation.items())
    figure = Figure(figsize=(max(1.6 * count + 0.4, 5.0), 1.8 * len(panels) + 0.8))
    _draw_panels(figure, panels, count)
    figure.suptitle(f"{data.key}: augmentation, before (first row) and after ({draws} random draws)\n{described}"
                    + ("\nvolumes: the middle slice along D, as stored (rows H, columns W)"
                       if data.x_train.ndim == 5 else ""), fontsize=7)
    figure.tight_layout()
    return figure


def gradcam_grid(trained, path, per_class, layer_name=None):
    """One row per class: test examples of that class with the Grad-CAM heat map *for that class* on top, and
    the model's probability for it. A volume is shown at the axial slice where its heat map peaks."""
    data, model = trained.data, trained.fit.model
    images, titles = [], []
    for label in range(data.num_outputs):
        picks = _members(data, label, per_class)
        if not len(picks):
            continue
        maps, _ = grad_cam(model, data.x_test[picks], class_index=label, layer_name=layer_name)
        probabilities = model.predict(data.x_test[picks], verbose=0)[:, label]
        for index, heatmap, probability in zip(picks, maps, probabilities):
            title = f"true {_class_label(data, label)}\nP(true class) {probability:.2f}"
            image = data.x_test[index]
            if heatmap.ndim == 3:  # a volume (D, H, W)
                depth = int(np.argmax(heatmap.reshape(heatmap.shape[0], -1).max(axis=1)))
                image, heatmap, title = image[depth], heatmap[depth], f"{title}, slice {depth}"
            images.append(overlay(image, heatmap))
            titles.append(title)
    return plot_image_grid(np.stack(images) if images else np.zeros((0, 1, 1)), titles, path, columns=per_class)


def _sets_and_augmentation(config, trained):
    """Every data set of the run once, with the augmentation its models trained with (None: none did)."""
    found = {}
    for model in trained.values():
        data, augmentation = found.get(model.data.key, (model.data, None))
        if model.augment:
            augmentation = config.augmentation_3d() if model.problem == "P1" else config.augmentation_2d()
        found[model.data.key] = (data, augmentation)
    return list(found.values())


def make_figures(config, run_folder, trained, rows, scores, selection):
    """Every figure of the report; returns {caption: path relative to the run folder}."""
    figures, folder = {}, run_folder.figures
    for data, augmentation in _sets_and_augmentation(config, trained):
        figures[f"{data.key}: training images per class"] = save_figure(draw_examples(data),
                                                                        folder / f"examples_{data.key}.png")
        if augmentation is not None:
            figures[f"{data.key}: augmentation before and after"] = save_figure(
                draw_augmentation(data, augmentation, config.seed), folder / f"augmentation_{data.key}.png")
    for problem, prefixes in (("p1", ("P1",)), ("p2", ("P2-A", "P2-B")), ("p3", ("P3",))):
        histories = {name: model.fit.history for name, model in trained.items() if model.problem in prefixes}
        if histories:
            figures[f"{problem.upper()}: learning curves (loss, exact validation AUC)"] = plot_learning_curves(
                histories, folder / f"learning_curves_{problem}.png", metrics=("loss", "auc"))
    by_set = {}
    for name, model in trained.items():
        by_set.setdefault(model.data.key, (model.data, {}))[1][name] = scores[name]
    for key, (data, set_scores) in by_set.items():
        if data.task == "multi-label":
            for name, model_scores in set_scores.items():
                figures[f"{name}: ROC per label on {key} test"] = plot_roc_curves(
                    data.y_test, model_scores, data.class_names, folder / f"roc_{name}.png", task="multi-label",
                    model_name=name)
        else:
            task = "binary" if data.task == "binary" else "multi-class"
            figures[f"ROC on {key} test"] = plot_roc_comparison(data.y_test, set_scores, data.class_names,
                                                                 folder / f"roc_{key}.png", task=task)
    for row in rows:
        if row["task"] != "multi-label":
            names = [_class_label(trained[row["model"]].data, k) for k in range(len(row["per_class"]))]
            figures[f"{row['model']}: confusion matrix (test)"] = plot_confusion_matrix(
                row["confusion_matrix"], names, folder / f"confusion_{row['model']}.png",
                title=f"{row['model']}: test")
    per_class = config.gradcam_per_class
    if per_class:
        if "p1_cnn3d" in selection:
            chosen = trained[selection["p1_cnn3d"]["chosen"]]
            figures[f"P1 Grad-CAM: {chosen.name}, per class, slice of the peak"] = gradcam_grid(
                chosen, folder / "gradcam_p1_cnn3d.png", per_class,
                cnn3d_gradcam_layer(config.cnn3d_filters, config.cnn3d_convs_per_stage))
        if "p2_custom_cnn" in selection:
            chosen = trained[selection["p2_custom_cnn"]["chosen"]]
            figures[f"P2-C Grad-CAM: {chosen.name}, per class"] = gradcam_grid(
                chosen, folder / "gradcam_p2_custom_cnn.png", per_class)
        if "p2_vgg16" in selection:
            chosen = trained[selection["p2_vgg16"]["chosen"]]
            figures[f"P2-C Grad-CAM: {chosen.name} (block5_conv3), per class"] = gradcam_grid(
                chosen, folder / "gradcam_p2_vgg16.png", per_class, layer_name="block5_conv3")
        if "p3_resnet" in trained:
            figures["P3 Grad-CAM: p3_resnet (last residual block), per class"] = gradcam_grid(
                trained["p3_resnet"], folder / "gradcam_p3_resnet.png", per_class,
                resnet_gradcam_layer(config.resnet_blocks))
    return {caption: path.relative_to(run_folder.path) for caption, path in figures.items()}


_RESULT_COLUMNS = {"model": "model", "description": "what", "accuracy": "test ACC", "auc": "test AUC",
                   "balanced_accuracy": "balanced ACC", "val_auc_checkpoint": "val AUC (checkpoint)",
                   "val_auc": "val AUC (final)", "parameters": "parameters", "epochs_run": "epochs",
                   "best_epoch": "best epoch", "train_seconds": "training (s)"}
_RESULT_FORMATS = {"accuracy": ".4f", "auc": ".4f", "balanced_accuracy": ".4f", "val_auc_checkpoint": ".4f",
                   "val_auc": ".4f", "parameters": ",d", "train_seconds": ".0f"}


def _results_table(rows, problems):
    return markdown_table([row for row in rows if row["problem"] in problems], _RESULT_COLUMNS, _RESULT_FORMATS)


def _reference_table(rows, flag, real):
    """This run's rows and the published ones for the same set, in one table."""
    published = published_rows(flag)
    ours = [{"model": f"**{row['model']}** (this run)", "auc": row["auc"], "accuracy": row["accuracy"],
             "note": "measured here" if real else "SAMPLE DATA"} for row in rows]
    table = markdown_table(ours + published, {"model": "model", "auc": "test AUC", "accuracy": "test ACC",
                                              "note": "source"}, {"auc": ".3f", "accuracy": ".3f"})
    if not published:
        return table + f"\n\nNo published MedMNIST v2 rows are recorded here for {flag}.\n"
    return table + f"\n\nPublished rows: {SOURCE}.\n"


def _quantization_section(quantization):
    if quantization is None:
        return "Quantization was not run (`--no-quantize`, or problem 2 not selected).\n"
    rows = []
    for row in quantization["rows"]:
        dtypes = row.get("tensor_dtypes") or {}
        flag = " **(AUC moved > 0.01)**" if row.get("auc_flag") else ""
        rows.append({**row, "size_kb": None if row["file_bytes"] is None else row["file_bytes"] / 1024,
                     "in_out": f"{dtypes['input']} / {dtypes['output']}" if dtypes else "float32 (Keras)",
                     "auc_text": (f"{row['auc']:.4f} ({row['auc_change_vs_float32']:+.4f}){flag}"
                                  if row.get("auc_change_vs_float32") is not None else "n/a"),
                     "latency_text": (f"{row['latency_ms']:.3f} ({row['latency_p10_ms']:.3f}-"
                                      f"{row['latency_p90_ms']:.3f})"),
                     "speedup_text": "n/a" if row.get("speedup_vs_float32") is None else
                     f"{row['speedup_vs_float32']:.2f}x"})
    table = markdown_table(rows, {
        "variant": "variant", "size_kb": "file (KiB)", "size_ratio_vs_float32": "size vs float32",
        "accuracy": "test ACC", "auc_text": "test AUC (change vs float32)", "distinct_scores": "distinct scores",
        "latency_text": "latency, ms / image: median (10th-90th percentile)", "speedup_text": "speed vs float32",
        "agreement_with_keras": "agrees with Keras", "in_out": "input / output", "output": "scores"},
        {"size_kb": ".1f", "size_ratio_vs_float32": ".3f", "accuracy": ".4f", "agreement_with_keras": ".4f"})
    notes = "\n".join(f"- {note}" for note in quantization["notes"])
    repeats = quantization["rows"][0].get("latency_repeats", "")
    return f"""Model: **{quantization['model']}** (`{quantization['model_file']}`), the custom CNN chosen on validation.
Every variant ran through the LiteRT interpreter on the whole test split ({quantization['split']}). Latency: after
warm-up, {repeats} rounds in which every variant (and Keras, TensorFlow at batch 1) ran one single-image inference
in turn with 1 thread, so that machine noise hit them alike; "speed vs float32" is float32's median over the
variant's, from the same rounds. "distinct scores" counts the different scores the AUC is computed from
(the positive class for a binary task, the mean over classes otherwise).

{table}

{notes}
"""


def write_report(run_folder, config, trained, rows, scores, selection, quantization, transfer):
    """Draw the figures and write report.md; ``transfer`` is how the VGG16 rows were trained (None: not asked)."""
    figures = make_figures(config, run_folder, trained, rows, scores, selection)
    metrics = run_folder.read_metrics()
    elapsed = metrics["wall_seconds"]
    sets = {}
    for model in trained.values():
        sets.setdefault(model.data.key, model.data)
    banner = sample_data_banner(next((data.sample for data in sets.values() if data.sample), None))
    data_lines = "\n".join(f"- {data.describe()}; file `{data.path}` (MD5 `{data.md5}`)" for data in sets.values())
    chosen = "\n".join(f"- {key}: **{entry['chosen']}** ("
                       + ", ".join(f"{name} {value:.4f}" for name, value in entry["candidates"].items()) + ")"
                       for key, entry in selection.items())
    sections = []
    real = not banner
    p1 = [row for row in rows if row["problem"] == "P1"]
    if p1:
        flag = config.volume_dataset
        sections.append(f"""## Problem 1: a 3D CNN from scratch ({p1[0]['dataset']})

{_results_table(rows, ("P1",))}

Compared with the published MedMNIST v2 rows (those models saw 28^3 volumes):

{_reference_table(p1, flag, real)}""")
    p2 = [row for row in rows if row["problem"] in ("P2-A", "P2-B")]
    if p2:
        notes = {row["note"] for row in p2 if row["note"]}
        sections.append(f"""## Problem 2: custom CNN, VGG16, Grad-CAM, quantization ({p2[0]['dataset']})

### A and B: custom CNN with / without augmentation; VGG16 frozen / last block fine-tuned

{_results_table(rows, ("P2-A", "P2-B"))}

{"".join(f"VGG16 weights: {note}." + chr(10) for note in sorted(notes))}{
f"VGG16: {transfer.note}." + chr(10) if transfer is not None and not transfer.train else ""}
### D: quantization of the custom CNN

{_quantization_section(quantization)}""")
    p3 = [row for row in rows if row["problem"] == "P3"]
    if p3:
        from_scratch = [row for row in rows if row["problem"] in ("P2-A", "P3")]
        sections.append(f"""## Problem 3: a ResNet from scratch ({p3[0]['dataset']})

{_results_table(rows, ("P3",))}

Every from-scratch 2D model of this run beside the published rows for the same set:

{_reference_table(from_scratch, config.image_dataset, real)}""")
    body = "\n".join(sections)
    return run_folder.write_report(f"""# Assignment 4: MedMNIST v2, from a 3D CNN to a quantized 2D model

{banner}Data (official MedMNIST train / validation / test splits):
{data_lines}

{INTENDED_USE} Accuracy and AUC follow the MedMNIST evaluator: arg-max accuracy and one-vs-rest AUC for
multi-class and ordinal sets, the positive class's AUC for binary sets, the mean per-label AUC and accuracy at
0.5 for multi-label sets.

Chosen on validation (test was not looked at):
{chosen}

Every model is its best validation checkpoint (monitor: {config.cnn3d_monitor} for the 3D CNN, {config.monitor} for
the 2D models) with batch-norm statistics
re-estimated on the clean training images; "val AUC (checkpoint)" is before that step, "val AUC (final)" after.

{body}
## Figures

{figure_list(figures)}
Seed {config.seed}; whole run {elapsed / 60:.1f} min.

{precision_note(metrics)}
""")
