"""Figures for run reports: learning curves, confusion matrices, ROC curves and image grids.

Every function draws into a new figure, saves it as PNG to ``path`` and closes it, so that long runs do
not accumulate open figures. The Agg backend is used: no display is needed.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def save_figure(figure, path, dpi=110):
    """Save a ``matplotlib.figure.Figure`` as the PNG ``path`` (a file or a binary buffer); returns ``path``. Every
    figure of the suite is saved here. The saved area is the box around everything drawn (``bbox_inches="tight"``),
    so a title or a label wider than the figure is never cut at its edge."""
    figure.savefig(path, dpi=dpi, format="png", bbox_inches="tight", pad_inches=0.08)
    return path


def _save(figure, path):
    figure.tight_layout()
    save_figure(figure, path)
    plt.close(figure)
    return path


# Axis labels for the metrics the trainers log; "auc" is the evaluator's exact AUC on the validation split, the
# number the tables report (see common.train.ValidationAUC), not an approximation.
METRIC_LABELS = {"loss": "loss", "accuracy": "accuracy", "auc": "validation AUC (exact, as in the tables)"}


def plot_learning_curves(histories, path, metrics=("loss", "accuracy")):
    """Training and validation curves per epoch, one panel per metric.

    ``histories`` maps a model name to its per-epoch history dict (``metric`` and ``val_metric`` lists). Every
    epoch is marked, so a one-epoch run shows its point; epochs are whole-number ticks; the legend sits below
    the panels, where it covers no line.
    """
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.9), squeeze=False)
    for axis, metric in zip(axes[0], metrics):
        for index, (name, history) in enumerate(histories.items()):
            color = f"C{index % 10}"
            for key, style, role in ((metric, "--", "train"), (f"val_{metric}", "-", "validation")):
                values = history.get(key)
                if values:
                    axis.plot(np.arange(1, len(values) + 1), values, color=color, linestyle=style, marker="o",
                              markersize=3, linewidth=1.2, label=f"{name} {role}")
        axis.set_xlabel("epoch")
        axis.set_ylabel(METRIC_LABELS.get(metric, metric))
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
    handles, labels = {}, []
    for axis in axes[0]:
        for handle, label in zip(*axis.get_legend_handles_labels()):
            if label not in handles:
                handles[label] = handle
                labels.append(label)
    columns = min(4, max(1, len(labels)))
    rows = -(-len(labels) // columns)
    figure.legend([handles[label] for label in labels], labels, loc="lower center", ncol=columns, fontsize=7,
                  frameon=False)
    figure.tight_layout(rect=(0, 0.06 * rows + 0.02, 1, 1))
    save_figure(figure, path)
    plt.close(figure)
    return path


def plot_confusion_matrix(matrix, class_names, path, title="Confusion matrix"):
    """A confusion matrix (rows: true class, columns: predicted) with counts in every cell."""
    matrix = np.asarray(matrix)
    size = max(3.5, 0.45 * len(class_names) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    axis.set_yticks(range(len(class_names)), class_names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, column), count in np.ndenumerate(matrix):
        axis.text(column, row, str(count), ha="center", va="center", fontsize=8,
                  color="white" if count > threshold else "black")
    return _save(figure, path)


def roc_curve_points(y_true, y_score):
    """False- and true-positive rates of a binary ROC curve at every distinct score (scikit-learn's
    ``roc_curve``, no point dropped)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(np.asarray(y_true).astype(bool).ravel(), np.asarray(y_score, dtype=np.float64).ravel(),
                            drop_intermediate=False)
    return fpr, tpr


def _one_vs_rest(y_true, y_score, task, class_names):
    """(name, truth (N,) bool, score (N,)) for every class or label that has positives and negatives."""
    y_true, y_score = np.asarray(y_true), np.asarray(y_score)
    if task == "binary":
        positive = y_score[:, -1] if y_score.ndim == 2 else y_score
        curves = [(class_names[-1], y_true.ravel() == 1, positive)]
    elif task == "multi-label":
        curves = [(name, y_true[:, k] == 1, y_score[:, k]) for k, name in enumerate(class_names)]
    else:
        curves = [(name, y_true.ravel() == k, y_score[:, k]) for k, name in enumerate(class_names)]
    return [(name, truth, score) for name, truth, score in curves if truth.any() and (~truth).any()]


def macro_roc_curve(curves):
    """The vertical average of ROC curves ``[(fpr, tpr), ...]``, exactly: its area is the mean of their areas.

    Every curve is piecewise linear between its own points, so on the union of all their false-positive rates
    each one is represented exactly, vertical steps included (the value arriving at a rate and the value leaving
    it); averaging those values gives a curve whose trapezoid area equals the mean of the curves' AUCs, i.e.
    the macro AUC of the tables. Returns (fpr, tpr).
    """
    grid = np.unique(np.concatenate([fpr for fpr, _ in curves]))
    arriving, leaving = np.zeros(len(grid)), np.zeros(len(grid))
    for fpr, tpr in curves:
        rates, first = np.unique(fpr, return_index=True)
        last = np.r_[first[1:], len(fpr)] - 1
        low, high = tpr[first], tpr[last]  # tpr is non-decreasing, so these are its least and greatest at a rate
        position = np.searchsorted(rates, grid)
        on_point = rates[np.minimum(position, len(rates) - 1)] == grid
        before = np.maximum(position - 1, 0)
        after = np.minimum(position, len(rates) - 1)
        span = np.where(rates[after] > rates[before], rates[after] - rates[before], 1.0)
        between = high[before] + (low[after] - high[before]) * (grid - rates[before]) / span
        arriving += np.where(on_point, low[after], between)
        leaving += np.where(on_point, high[after], between)
    arriving, leaving = arriving / len(curves), leaving / len(curves)
    return np.repeat(grid, 2), np.column_stack([arriving, leaving]).ravel()


def plot_roc_curves(y_true, y_score, class_names, path, task="multi-class", model_name=None):
    """One model's one-vs-rest ROC curves, one per class or label (one curve, the positive class, for a binary
    task), each with its AUC in the legend; the title names the model and its AUC as the tables give it (the
    positive class's for binary, the mean of the per-class AUCs otherwise)."""
    from common.evaluate import evaluate_predictions

    figure, axis = plt.subplots(figsize=(5.0, 4.4))
    for name, truth, score in _one_vs_rest(y_true, y_score, task, class_names):
        fpr, tpr = roc_curve_points(truth, score)
        axis.plot(fpr, tpr, linewidth=1.2, label=f"{name} (AUC {np.trapezoid(tpr, fpr):.3f})")
    auc = evaluate_predictions(y_true, y_score, task, class_names)["auc"]
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("false-positive rate")
    axis.set_ylabel("true-positive rate")
    summary = "n/a" if auc is None else f"{auc:.3f}"
    kind = "AUC" if task == "binary" else "macro AUC"
    axis.set_title(f"{model_name + ': ' if model_name else ''}ROC on test, {kind} {summary}", fontsize=9)
    axis.legend(fontsize=7, ncol=2 if len(class_names) > 6 else 1, loc="lower right")
    return _save(figure, path)


def plot_image_grid(images, titles, path, columns=8, cmap="gray"):
    """A grid of 2-D images (N, H, W) or (N, H, W, 1|3) with a title above each."""
    images = np.asarray(images)
    count = len(images)
    if count == 0:
        figure, axis = plt.subplots(figsize=(4, 1))
        axis.text(0.5, 0.5, "no images", ha="center", va="center")
        axis.axis("off")
        return _save(figure, path)
    columns = min(columns, count)
    rows = int(np.ceil(count / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 2.0 * rows), squeeze=False)
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index < count:
            image = images[index]
            if image.ndim == 3 and image.shape[-1] == 1:
                image = image[..., 0]
            axis.imshow(image, cmap=cmap if image.ndim == 2 else None)
            axis.set_title(titles[index], fontsize=7)
    return _save(figure, path)


def plot_roc_comparison(y_true, scores_by_model, class_names, path, task="binary"):
    """One ROC curve per model on the same axes, with the AUC of the drawn curve in the legend.

    Binary: the curve of the positive (last) class. Multi-class and multi-label: the macro average of the
    one-vs-rest curves (``macro_roc_curve``), whose area is the macro AUC the tables report.
    """
    figure, axis = plt.subplots(figsize=(5.0, 4.4))
    for name, y_score in scores_by_model.items():
        curves = [roc_curve_points(truth, score) for _, truth, score in _one_vs_rest(y_true, y_score, task,
                                                                                     class_names)]
        if not curves:
            continue
        fpr, tpr = curves[0] if task == "binary" else macro_roc_curve(curves)
        axis.plot(fpr, tpr, linewidth=1.2, label=f"{name} (AUC {np.trapezoid(tpr, fpr):.3f})")
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("false-positive rate")
    axis.set_ylabel("true-positive rate")
    axis.set_title("ROC on test" + ("" if task == "binary" else ": macro average of the one-vs-rest curves"),
                   fontsize=9)
    axis.legend(fontsize=7, loc="lower right")
    return _save(figure, path)
