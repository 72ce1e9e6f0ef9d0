"""One task-aware evaluator for every assignment.

``evaluate_predictions(y_true, y_score, task)`` returns accuracy, ROC-AUC, balanced accuracy, per-class
precision / recall / F1 and the confusion matrix for the four kinds of task in the suite:

- "binary": y_true (N,) in {0, 1}; y_score (N,) or (N, 1) probability of class 1, or (N, 2) probabilities.
  Class 1 is predicted where its probability is at least ``threshold`` (default 0.5, the arg-max); a threshold
  chosen on validation (``youden_threshold``) is passed with the scores it applies to, and recorded.
- "multi-class": y_true (N,) in 0..C-1; y_score (N, C) class probabilities. AUC is the one-vs-rest macro
  average over classes, accuracy uses the arg-max.
- "ordinal": scored exactly as "multi-class" (the MedMNIST convention for RetinaMNIST).
- "multi-label": y_true (N, L) in {0, 1}; y_score (N, L) per-label probabilities. AUC is the mean of the
  per-label AUCs and accuracy the mean per-label accuracy at a 0.5 threshold (the MedMNIST convention).
- "segmentation": y_true (N, ...) masks of class indices; y_score (N, ..., K) per-pixel class probabilities.
  Accuracy is the pixel accuracy, macro F1 the mean Dice over classes, no AUC; per class Dice, IoU, precision,
  recall and pixel support (``common.segmentation``).

The numbers come from scikit-learn (``roc_auc_score``, ``confusion_matrix``, ``precision_recall_fscore_support``);
this module only shapes the inputs by task and the outputs into one JSON-ready dict, so that every assignment
and the grader score predictions the same way. A class with no positive or no negative example has no AUC; it
is left out of the average and listed under ``auc_undefined_for``.
"""

import numpy as np

TASKS = ("binary", "multi-class", "ordinal", "multi-label", "segmentation")


def binary_auc(y_true, y_score):
    """ROC-AUC of scores ``y_score`` (N,) for binary labels ``y_true`` (N,); NaN if only one class occurs."""
    from sklearn.metrics import roc_auc_score

    y_true = np.asarray(y_true).astype(bool).ravel()
    if y_true.all() or not y_true.any():
        return float("nan")
    return float(roc_auc_score(y_true, np.asarray(y_score, dtype=np.float64).ravel()))


def youden_threshold(y_true, y_score):
    """The threshold on class-1 scores ``y_score`` (N,) that maximises Youden's J (sensitivity + specificity - 1)
    on binary labels ``y_true`` (N,): for two classes the same one maximises balanced accuracy, J being 2 x
    balanced accuracy - 1, so it does not favour the larger class. Choose it on validation, never on test.

    Returns:
        A float in [0, 1] (0.5 where only one class occurs and no threshold can be chosen).
    """
    from sklearn.metrics import roc_curve

    y_true = np.asarray(y_true).astype(bool).ravel()
    if y_true.all() or not y_true.any():
        return 0.5
    false_positive_rate, true_positive_rate, thresholds = roc_curve(y_true, np.asarray(y_score, np.float64).ravel())
    return float(np.clip(thresholds[int(np.argmax(true_positive_rate - false_positive_rate))], 0.0, 1.0))


def bootstrap_auc_interval(y_true, y_score, samples=1000, confidence=0.95, seed=0):
    """The ``confidence`` interval of the binary ROC-AUC of ``y_score`` (N,) on ``y_true`` (N,), by ``samples``
    paired bootstrap resamples of the cases (``scipy.stats.bootstrap``, percentile method).

    Returns:
        (low, high), or (None, None) where only one class occurs.
    """
    from scipy.stats import bootstrap
    from sklearn.metrics import roc_auc_score

    y_true = np.asarray(y_true).astype(np.int64).ravel()
    y_score = np.asarray(y_score, np.float64).ravel()
    if np.unique(y_true).size < 2:
        return None, None

    def auc(labels, scores):
        return roc_auc_score(labels, scores) if 0 < labels.sum() < len(labels) else np.nan

    result = bootstrap((y_true, y_score), auc, paired=True, vectorized=False, n_resamples=int(samples),
                       confidence_level=confidence, method="percentile", random_state=seed)
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def confusion_matrix(y_true, y_pred, num_classes):
    """Counts of shape (C, C): rows are true classes, columns predicted classes."""
    from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

    return sklearn_confusion_matrix(y_true, y_pred, labels=np.arange(num_classes)).astype(np.int64)


def _per_class(y_true, y_pred, labels):
    """Precision, recall, F1 and support per label (0 where undefined, as the MedMNIST evaluator counts them)."""
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                                     zero_division=0.0)
    return precision, recall, f1, support.astype(np.int64)


def _normalise_inputs(y_true, y_score, task):
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, not {task!r}.")
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=np.float64)
    if task == "multi-label":
        if y_true.ndim != 2 or y_score.shape != y_true.shape:
            raise ValueError(f"multi-label expects y_true and y_score of the same shape (N, L); got "
                             f"{y_true.shape} and {y_score.shape}.")
        return y_true.astype(np.int64), y_score
    if y_true.ndim == 2 and y_true.shape[1] == 1:
        y_true = y_true[:, 0]
    if y_true.ndim != 1:
        raise ValueError(f"{task} expects integer labels of shape (N,), got {y_true.shape}. For one-hot "
                         "labels pass y_true.argmax(axis=1).")
    if task == "binary":
        if y_score.ndim == 2 and y_score.shape[1] == 2:
            y_score = y_score[:, 1]
        y_score = y_score.reshape(len(y_true), -1)
        if y_score.shape[1] != 1:
            raise ValueError(f"binary expects scores of shape (N,), (N, 1) or (N, 2); got {y_score.shape}.")
        y_score = np.concatenate([1.0 - y_score, y_score], axis=1)
    if y_score.ndim != 2 or y_score.shape[0] != len(y_true):
        raise ValueError(f"{task} expects scores of shape (N, C) matching {len(y_true)} labels; got "
                         f"{y_score.shape}.")
    if y_true.min(initial=0) < 0 or y_true.max(initial=0) >= y_score.shape[1]:
        raise ValueError(f"labels must lie in 0..{y_score.shape[1] - 1} for {y_score.shape[1]} score columns.")
    return y_true.astype(np.int64), y_score


def evaluate_predictions(y_true, y_score, task, class_names=None, threshold=None):
    """Score predictions; see the module docstring for shapes. ``threshold`` (binary only): predict class 1 where
    its score is at least this (None: the arg-max, i.e. 0.5).

    Returns:
        A JSON-ready dict with ``accuracy``, ``auc``, ``balanced_accuracy``, ``macro_f1``, ``per_class``
        (name -> precision, recall, f1, support, auc), ``confusion_matrix`` (list of lists; per label for
        multi-label: [[TN, FP], [FN, TP]]), ``auc_undefined_for`` and ``num_samples``.
    """
    if task == "segmentation":
        return _evaluate_segmentation(y_true, y_score, class_names)
    if threshold is not None and task != "binary":
        raise ValueError(f"a decision threshold applies to binary tasks, not to {task!r}.")
    y_true, y_score = _normalise_inputs(y_true, y_score, task)
    num_classes = y_score.shape[1]
    names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f"{len(names)} class names given for {num_classes} score columns.")

    if task == "multi-label":
        predicted = (y_score >= 0.5).astype(np.int64)
        per_label_accuracy = (predicted == y_true).mean(axis=0)
        per_class_auc = np.array([binary_auc(y_true[:, k], y_score[:, k]) for k in range(num_classes)])
        matrices = [confusion_matrix(y_true[:, k], predicted[:, k], 2) for k in range(num_classes)]
        per_class = {}
        for k, name in enumerate(names):
            precision, recall, f1, _ = _per_class(y_true[:, k], predicted[:, k], [1])
            per_class[name] = {"precision": float(precision[0]), "recall": float(recall[0]), "f1": float(f1[0]),
                               "support": int(y_true[:, k].sum()), "auc": _float_or_none(per_class_auc[k]),
                               "accuracy": float(per_label_accuracy[k])}
        accuracy = float(per_label_accuracy.mean())
        balanced = float(np.mean([(m[0, 0] / max(m[0].sum(), 1) + m[1, 1] / max(m[1].sum(), 1)) / 2
                                  for m in matrices]))
        confusion = [m.tolist() for m in matrices]
        macro_f1 = float(np.mean([per_class[name]["f1"] for name in names]))
    else:
        predicted = y_score.argmax(axis=1) if threshold is None else (y_score[:, 1] >= threshold).astype(np.int64)
        matrix = confusion_matrix(y_true, predicted, num_classes)
        precision, recall, f1, support = _per_class(y_true, predicted, np.arange(num_classes))
        per_class_auc = np.array([binary_auc(y_true == k, y_score[:, k]) for k in range(num_classes)])
        if task == "binary":
            # Binary AUC is the AUC of the positive class; the negative class's is the same number.
            per_class_auc = np.array([per_class_auc[1]] * 2)
        per_class = {
            name: {"precision": float(precision[k]), "recall": float(recall[k]), "f1": float(f1[k]),
                   "support": int(support[k]), "auc": _float_or_none(per_class_auc[k])}
            for k, name in enumerate(names)
        }
        accuracy = float((predicted == y_true).mean())
        present = support > 0
        balanced = float(recall[present].mean()) if present.any() else float("nan")
        confusion = matrix.tolist()
        macro_f1 = float(f1.mean())

    defined = ~np.isnan(per_class_auc)
    auc = float(per_class_auc[defined].mean()) if defined.any() else float("nan")
    threshold_field = {} if threshold is None else {"threshold": float(threshold)}
    return {
        "task": task,
        **threshold_field,
        "num_samples": int(len(y_true)),
        "accuracy": accuracy,
        "auc": _float_or_none(auc),
        "balanced_accuracy": _float_or_none(balanced),
        "macro_f1": macro_f1,
        "per_class": per_class,
        "confusion_matrix": confusion,
        "auc_undefined_for": [name for name, ok in zip(names, defined) if not ok],
    }


def _evaluate_segmentation(y_true, y_score, class_names):
    """The segmentation scores under the keys every task has (see the module docstring)."""
    from common.segmentation import segmentation_scores

    scores = segmentation_scores(y_true, y_score, class_names)
    return {"task": "segmentation", "num_samples": scores["num_samples"], "accuracy": scores["accuracy"], "auc": None,
            "balanced_accuracy": scores["balanced_accuracy"], "macro_f1": scores["mean_dice"],
            "per_class": scores["per_class"], "confusion_matrix": scores["confusion_matrix"], "auc_undefined_for": [],
            "pixel_error": scores["pixel_error"], "mean_dice": scores["mean_dice"], "mean_iou": scores["mean_iou"],
            "num_pixels": scores["num_pixels"]}


def _float_or_none(value):
    """JSON has no NaN: undefined metrics are written as null."""
    return None if value is None or np.isnan(value) else float(value)
