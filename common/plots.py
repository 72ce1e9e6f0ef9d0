"""Figures for run reports: learning curves, confusion matrices, ROC curves and image grids.

Every function draws into a new figure, saves it as PNG to ``path`` and closes it, so that long runs do
not accumulate open figures. The Agg backend is used: no display is needed.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(figure, path):
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_learning_curves(histories, path, metrics=("loss", "accuracy")):
    """Training and validation curves; ``histories`` maps a model name to its per-epoch history dict."""
    figure, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    for axis, metric in zip(axes[0], metrics):
        for index, (name, history) in enumerate(histories.items()):
            color = f"C{index % 10}"
            if metric in history:
                epochs = np.arange(1, len(history[metric]) + 1)
                axis.plot(epochs, history[metric], color=color, linestyle="--", label=f"{name} train")
            if f"val_{metric}" in history:
                epochs = np.arange(1, len(history[f"val_{metric}"]) + 1)
                axis.plot(epochs, history[f"val_{metric}"], color=color, label=f"{name} validation")
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    return _save(figure, path)


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
    """False- and true-positive rates of a binary ROC curve, thresholding at every distinct score."""
    y_true = np.asarray(y_true).astype(bool)
    order = np.argsort(-np.asarray(y_score, dtype=np.float64), kind="mergesort")
    scores = np.asarray(y_score)[order]
    hits = y_true[order]
    distinct = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    true_positives = np.cumsum(hits)[distinct]
    false_positives = (distinct + 1) - true_positives
    positives, negatives = max(hits.sum(), 1), max((~hits).sum(), 1)
    return np.r_[0.0, false_positives / negatives], np.r_[0.0, true_positives / positives]


def plot_roc_curves(y_true, y_score, class_names, path, task="multi-class"):
    """One-vs-rest ROC curves (one per class or label; one curve for a binary task)."""
    y_score = np.asarray(y_score)
    figure, axis = plt.subplots(figsize=(4.8, 4.2))
    if task == "binary":
        positive = y_score[:, -1] if y_score.ndim == 2 else y_score
        curves = [(class_names[-1], np.asarray(y_true).ravel() == 1, positive)]
    elif task == "multi-label":
        curves = [(name, np.asarray(y_true)[:, k] == 1, y_score[:, k]) for k, name in enumerate(class_names)]
    else:
        curves = [(name, np.asarray(y_true).ravel() == k, y_score[:, k]) for k, name in enumerate(class_names)]
    for name, truth, score in curves:
        if truth.any() and (~truth).any():
            fpr, tpr = roc_curve_points(truth, score)
            axis.plot(fpr, tpr, label=str(name), linewidth=1.2)
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("false-positive rate")
    axis.set_ylabel("true-positive rate")
    axis.set_title("ROC (one-vs-rest)")
    axis.legend(fontsize=7, ncol=2)
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
    """One ROC curve per model on the same axes, with its AUC in the legend.

    Binary: the curve of the positive (last) class. Multi-class: the micro-average over one-vs-rest
    decisions (every (case, class) pair is one decision), which summarises a model in one curve.
    """
    from common.evaluate import evaluate_predictions

    y_true = np.asarray(y_true)
    figure, axis = plt.subplots(figsize=(4.8, 4.2))
    for name, y_score in scores_by_model.items():
        y_score = np.asarray(y_score)
        if task == "binary":
            truth, score = y_true.ravel() == 1, (y_score[:, -1] if y_score.ndim == 2 else y_score)
        else:
            truth, score = (np.eye(len(class_names))[y_true] == 1).ravel(), y_score.ravel()
        auc = evaluate_predictions(y_true, y_score, task, class_names)["auc"]
        fpr, tpr = roc_curve_points(truth, score)
        axis.plot(fpr, tpr, linewidth=1.2, label=f"{name} (AUC {auc:.3f})" if auc is not None else name)
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("false-positive rate")
    axis.set_ylabel("true-positive rate")
    axis.set_title("ROC on test" + ("" if task == "binary" else " (micro-average)"))
    axis.legend(fontsize=7)
    return _save(figure, path)
