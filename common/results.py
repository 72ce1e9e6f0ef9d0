"""The result row: what a run reports for one model on one split, defined once for every assignment and the grader.

``score_split`` is the one way a model is scored: it evaluates the predictions once (``common.evaluate``),
saves labels and scores to ``predictions/<model>_<split>.npz`` for the grader, and returns the row that goes
into ``metrics.json``::

    row = score_split(run, "fc_net", "test", y_test, scores, task="multi-class", class_names=names,
                      dataset="usps", model_file="fc_trial_3/best.keras", parameters=count)

Every row has ``REQUIRED_FIELDS``; assignments add their own (parameters, training time, validation scores).
The grader re-scores each row from its prediction file, as the task the row names, with the same evaluator.
"""

from pathlib import Path

import numpy as np

from common.atomic import save_npz
from common.evaluate import TASKS, evaluate_predictions

PREDICTIONS_FOLDER = "predictions"
# What every row holds; the grader re-scores accuracy and auc from the row's prediction file.
REQUIRED_FIELDS = ("model", "dataset", "split", "task", "accuracy", "auc", "num_samples")
# Scores stored as the evaluator returns them, beside the required fields.
SCORE_FIELDS = ("accuracy", "auc", "balanced_accuracy", "macro_f1", "num_samples")
# And for segmentation (the scores of masks, stored as uint8 levels; see ``common.segmentation``).
SEGMENTATION_FIELDS = ("pixel_error", "mean_dice", "mean_iou", "num_pixels")


def prediction_file(run_path, model, split):
    """Where the predictions of ``model`` on ``split`` are saved in a run folder."""
    return Path(run_path) / PREDICTIONS_FOLDER / f"{model}_{split}.npz"


def validation_prediction_file(run_path, model):
    """Where a model's validation predictions are kept, apart from the result rows (the grader re-derives a
    decision made on validation, such as a threshold, from them): ``predictions/validation/<model>.npz``."""
    return Path(run_path) / PREDICTIONS_FOLDER / "validation" / f"{model}.npz"


def save_predictions(path, y_true, y_score, class_names=()):
    """Save labels (N,) or (N, L), scores float32 (N, C) and class names to ``path`` (atomically). Segmentation
    scores given as uint8 levels (``common.segmentation.quantize_scores``) are stored as such, with uint8 masks:
    whole test images as float32 would take megabytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    y_score = np.asarray(y_score)
    if y_score.dtype == np.uint8:
        return save_npz(path, y_true=np.asarray(y_true, dtype=np.uint8), y_score=y_score,
                        class_names=np.asarray(list(class_names), dtype=str))
    return save_npz(path, y_true=np.asarray(y_true), y_score=y_score.astype(np.float32),
                    class_names=np.asarray(list(class_names), dtype=str))


def load_predictions(path):
    """(y_true, y_score float32, class_names) from a prediction file written by ``save_predictions``."""
    with np.load(path, allow_pickle=False) as data:
        y_true, y_score = data["y_true"], data["y_score"]
        if y_score.dtype == np.uint8:
            from common.segmentation import dequantize_scores

            y_true, y_score = y_true.astype(np.int64), dequantize_scores(y_score)
        return y_true, y_score, [str(name) for name in data["class_names"]]


def score_split(run, model, split, y_true, y_score, *, task, class_names, dataset, model_file=None, threshold=None,
                **extra):
    """Score ``model``'s predictions on ``split`` once, save them for the grader, and return the result row.

    Args:
        run: the ``common.run.RunFolder`` (or its path) the predictions are saved in.
        model: the model's name in the run (unique; the prediction file is named after it).
        split: "test", or another name for a second test set ("test-deduplicated", "test-retinamnist").
        y_true, y_score: as ``common.evaluate.evaluate_predictions`` takes them for ``task``.
        task, class_names: the evaluator's task and the class (or label) names.
        dataset: the data set the row is about, as the report names it.
        model_file: the saved model, relative to the run folder.
        threshold: binary tasks: the decision threshold chosen on validation (``common.evaluate.youden_threshold``),
            recorded in the row, and used by the grader when it re-scores the row (None: 0.5).
        extra: more fields for the row (parameters, training time, validation scores, ...).

    Returns:
        The row: ``REQUIRED_FIELDS``, balanced accuracy and macro F1, ``model_file``, ``extra``, then the per-class
        scores and the confusion matrix.
    """
    stored = y_score
    if task == "segmentation":  # scored as stored, so the grader's re-score gives the same numbers
        from common.segmentation import quantize_scores

        stored, y_score = quantize_scores(y_score)
    metrics = evaluate_predictions(y_true, y_score, task, class_names, threshold=threshold)
    save_predictions(prediction_file(getattr(run, "path", run), model, split), y_true, stored, class_names)
    segmentation = {field: metrics[field] for field in SEGMENTATION_FIELDS} if task == "segmentation" else {}
    chosen = {} if threshold is None else {"threshold": float(threshold)}
    return {"model": model, "dataset": dataset, "split": split, "task": task,
            **{field: metrics[field] for field in SCORE_FIELDS}, **chosen, **segmentation, "model_file": model_file,
            **extra,
            "per_class": metrics["per_class"], "confusion_matrix": metrics["confusion_matrix"]}


def row_problems(row):
    """What keeps ``row`` from being a result row the grader can re-score: a list of short sentences."""
    if not isinstance(row, dict):
        return [f"not a mapping: {row!r}"]
    problems = [f"lacks {field}" for field in REQUIRED_FIELDS if field not in row]
    if "task" in row and row["task"] not in TASKS:
        problems.append(f"names the task {row['task']!r}; the tasks are {', '.join(TASKS)}")
    return problems
