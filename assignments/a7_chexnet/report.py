"""Assignment 7's figures (training images, learning curves, ROC with the chosen operating points, confusion
matrices, CAM beside Grad-CAM on true and false positives and negatives) and report.md. The ``draw_*`` functions
return a matplotlib ``Figure`` (a notebook shows it inline); the report saves the same figures."""

import numpy as np

from common.gradcam import class_activation_map, grad_cam, overlay
from common.plots import plot_confusion_matrix, plot_image_grid, plot_learning_curves, roc_curve_points, save_figure
from common.report import INTENDED_USE, figure_list, markdown_table, precision_note, sample_data_banner

from .model import FEATURE_LAYER, OUTPUT_LAYER

OUTCOMES = ("true positive", "false positive", "true negative", "false negative")
# Published results beside ours: other data, other image sizes, other splits; context, not a like-for-like test.
PUBLISHED = [
    {"source": "CheXNet (Rajpurkar et al. 2017)", "data": "ChestX-ray14 (NIH, adults), 224 px, 420 test images",
     "result": "pneumonia F1 0.435 (95% CI 0.387-0.481); radiologists' average 0.387"},
    {"source": "Kermany et al., Cell 2018", "data": "these children's X-rays at full size, the 624 test images",
     "result": "accuracy 0.928, sensitivity 0.932, specificity 0.901, AUC 0.968 (ImageNet transfer)"},
    {"source": "MedMNIST v2 (Yang et al. 2023), ResNet-18", "data": "PneumoniaMNIST 28 px, full training split",
     "result": "test AUC 0.944, accuracy 0.854"},
    {"source": "MedMNIST v2, ResNet-50", "data": "PneumoniaMNIST 224 px, full training split",
     "result": "test AUC 0.962, accuracy 0.884"},
]


def outcome_cases(y_true, scores, threshold, per_outcome):
    """{outcome: indices of up to ``per_outcome`` test images}, the most confident first (highest score for
    predicted positives, lowest for predicted negatives)."""
    predicted = scores >= threshold
    masks = {"true positive": predicted & (y_true == 1), "false positive": predicted & (y_true == 0),
             "true negative": ~predicted & (y_true == 0), "false negative": ~predicted & (y_true == 1)}
    cases = {}
    for outcome, mask in masks.items():
        members = np.flatnonzero(mask)
        confidence = scores[members] if outcome in ("true positive", "false positive") else -scores[members]
        cases[outcome] = members[np.argsort(-confidence, kind="stable")][:per_outcome]
    return cases


def draw_heatmaps(model, data, scores, threshold, per_outcome, name):
    """Per test case (rows: true and false positives and negatives at the chosen threshold), the X-ray, CheXNet's
    CAM and Grad-CAM, both of the pneumonia output; returns a ``Figure``."""
    from matplotlib.figure import Figure

    cases = outcome_cases(data.y_test, scores, threshold, per_outcome)
    picks = [(outcome, int(index)) for outcome in OUTCOMES for index in cases[outcome]]
    figure = Figure(figsize=(6.3, 2.4 * max(1, len(picks)) + 0.6), layout="constrained")
    axes = figure.subplots(max(1, len(picks)), 3, squeeze=False)
    if picks:
        images = data.x_test[[index for _, index in picks]]
        cams = class_activation_map(model, images, FEATURE_LAYER, OUTPUT_LAYER)
        grads, _ = grad_cam(model, images, class_index=0, layer_name=FEATURE_LAYER)
    for row, (outcome, index) in enumerate(picks):
        image = data.x_test[index]
        panels = [(image[..., 0], f"{outcome}\nP(pneumonia) {scores[index]:.2f}"),
                  (overlay(image, cams[row]), "CAM"), (overlay(image, grads[row]), "Grad-CAM")]
        for axis, (picture, caption) in zip(axes[row], panels):
            axis.imshow(picture, cmap="gray" if picture.ndim == 2 else None, interpolation="bilinear")
            axis.set_title(caption, fontsize=7)
            axis.axis("off")
    for axis in axes.ravel()[3 * len(picks):]:
        axis.axis("off")
    absent = [outcome for outcome in OUTCOMES if not len(cases[outcome])]
    missing = f"\nno {' and no '.join(absent)} at this threshold" if absent else ""
    figure.suptitle(f"{name}: where it finds pneumonia (threshold {threshold:.2f}, chosen on validation); both maps "
                    f"are of the pneumonia output, so a case without its evidence stays dark{missing}", fontsize=8,
                    wrap=True)
    return figure


def draw_roc(data, rows, scores):
    """Every model's test ROC curve with its operating point at the threshold chosen on validation."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.0, 4.4))
    axis = figure.subplots()
    for number, row in enumerate(rows):
        name, colour = row["model"], f"C{number}"
        fpr, tpr = roc_curve_points(data.y_test, scores[name])
        axis.plot(fpr, tpr, color=colour, linewidth=1.2, label=f"{name} (AUC {row['auc']:.3f})")
        axis.plot(1 - row["specificity"], row["sensitivity"], "o", color=colour, markersize=6,
                  label=f"{name} at threshold {row['threshold']:.2f}")
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("false-positive rate (1 - specificity)")
    axis.set_ylabel("true-positive rate (sensitivity)")
    axis.set_title("ROC on the test split; dots: the thresholds chosen on validation", fontsize=9)
    axis.legend(fontsize=7, loc="lower right")
    return figure


def make_figures(run, config, data, fits, rows, scores, chosen):
    """Every figure of the report; returns {caption: path relative to the run folder}."""
    names = data.class_names
    picks = np.concatenate([np.flatnonzero(data.y_train == label)[:6] for label in (0, 1)])
    figures = {
        "training images, as the models get them": plot_image_grid(
            data.x_train[picks], [names[data.y_train[i]] for i in picks], run.figures / "training_examples.png",
            columns=6),
        "learning curves (weighted loss, validation AUC)": plot_learning_curves(
            {name: fit.history for name, fit in fits.items()}, run.figures / "learning_curves.png",
            metrics=("loss", "auc")),
        "ROC on test, with each model's operating point": save_figure(draw_roc(data, rows, scores),
                                                                       run.figures / "roc.png"),
    }
    for row in rows:
        name = row["model"]
        figures[f"{name}: confusion matrix on test at threshold {row['threshold']:.2f}"] = plot_confusion_matrix(
            row["confusion_matrix"], names, run.figures / f"confusion_{name}.png",
            title=f"{name}: test, threshold {row['threshold']:.2f}")
        figures[f"{name}: CAM and Grad-CAM on true and false positives and negatives"] = save_figure(
            draw_heatmaps(fits[name].model, data, scores[name], row["threshold"], config.heatmap_cases, name),
            run.figures / f"heatmaps_{name}.png")
    return {caption: run.relative(path) for caption, path in figures.items()}


def results_table(rows):
    """The test results, one row per model."""
    shown = [{**row, "interval": "n/a" if row.get("auc_low") is None else
              f"{row['auc_low']:.3f}-{row['auc_high']:.3f}"} for row in rows]
    return markdown_table(shown, {
        "model": "model", "auc": "test AUC", "interval": "95% CI (bootstrap)", "accuracy": "accuracy",
        "balanced_accuracy": "balanced accuracy", "f1": "F1 (pneumonia)", "sensitivity": "sensitivity",
        "specificity": "specificity", "threshold": "threshold", "val_auc": "val AUC", "parameters": "parameters",
        "epochs_run": "epochs", "train_seconds": "training (s)"},
        {"auc": ".4f", "accuracy": ".4f", "balanced_accuracy": ".4f", "f1": ".4f", "sensitivity": ".4f",
         "specificity": ".4f", "threshold": ".3f", "val_auc": ".4f", "parameters": ",d", "train_seconds": ".0f"})


def augmentation_text(config):
    """What the training augmentation does, in words."""
    if not config.augment:
        return "off"
    extra = f", shifts and zooms up to {config.shift:.0%}, rotations up to 10 degrees" if config.shift else ""
    if config.contrast:
        extra += f", contrast changes up to {config.contrast:.0%} and brightness up to {config.contrast / 2:.0%}"
    return "horizontal flips" + extra


def write_report(run, config, data, fits, rows, scores, chosen):
    """Draw the figures and write report.md."""
    figures = make_figures(run, config, data, fits, rows, scores, chosen)
    metrics = run.read_metrics()
    weights = "\n".join(f"- {row['model']}: {row['weights']}" for row in rows)
    counts = "\n".join(f"| {split} | {sum(data.counts(split))} | {data.counts(split)[0]} | {data.counts(split)[1]} |"
                       for split in ("train", "val", "test"))
    return run.write_report(f"""# Assignment 7: CheXNet, pneumonia on chest X-rays

{sample_data_banner(data.sample)}Data: {data.title} ({data.source}{f', MD5 {data.md5}' if data.md5 else ''});
{data.x_train.shape[1]} x {data.x_train.shape[1]} px grey. Validation: {data.validation_note}; test: {data.test_note}.

| split | images | normal | pneumonia |
|---|---|---|---|
{counts}

{INTENDED_USE}

## Models

- **densenet121**: CheXNet's network, DenseNet-121 (`keras.applications`), the images upsampled
  inside the model to {config.input_size} x {config.input_size} (five halvings leave
  {config.input_size // 32} x {config.input_size // 32} cells for the heat maps), global average pooling, one sigmoid.
- **compact_densenet**: the baseline, a DenseNet-BC of dense blocks {', '.join(map(str, config.baseline_blocks))}
  (growth rate {config.baseline_growth_rate}) at the data's own size.

Both: CheXNet's weighted binary cross-entropy (w+ = normal share, w- = pneumonia share of the training labels),
Adam at {config.learning_rate:g} divided by 10 after {config.lr_patience} epoch(s) without a lower validation loss,
the checkpoint of the best validation AUC; augmentation: {augmentation_text(config)}.
Weights:
{weights}

Decisions on validation only: each model's threshold maximises Youden's J on validation (sensitivity +
specificity - 1, for two classes the best balanced accuracy, so neither class's size decides it), and the model
with the higher validation AUC is chosen: **{chosen}**.

## Results on the test split (scored once)

{results_table(rows)}

## Published results, for context

Other data, other sizes or splits: not a like-for-like comparison.

{markdown_table(PUBLISHED, {"source": "source", "data": "data", "result": "result"})}

## Figures

{figure_list(figures)}
Seed {config.seed}; whole run {metrics['wall_seconds']:.0f} s.

{precision_note(metrics)}
""")
