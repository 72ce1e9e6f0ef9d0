"""What k-fold cross-validation of several candidates needs besides the folds themselves.

- ``ResettableModel``: one compiled model per architecture, reset to the same initial weights and optimizer
  state before every fold. Building and tracing a model costs more than a fold's training on a few hundred
  small images, so the folds and all the candidates of one architecture reuse one model and its compiled step.
- ``summarise_folds``: mean and standard deviation of each metric across the folds, per-class recall and the
  confusion matrix summed over the folds (each training case is held out exactly once).
- ``baseline_scores``: the majority-class and chance baselines a model must beat.
- ``fold_count``: the number of folds a small class allows.

The folds come from ``common.datasets.splits.stratified_kfold``.
"""

import sys

import numpy as np

from common.datasets.files import DataError
from common.precision import build_for_training

BASELINES = ("majority_baseline", "chance_baseline")


class ResettableModel:
    """A compiled model that ``reset()`` returns to its initial state: every variable of the model (its weights,
    and the states of its dropout and other random layers' seed generators, which ``get_weights`` leaves out) and
    of its optimizer. A fold then trains exactly as it would first in a fresh process, so a resumed run that skips
    finished folds gets the same numbers.

    Args:
        build: a function with no arguments returning a compiled ``keras.Model``; called under ``strategy``, in the
            run's precision (``common.precision.build_for_training``; ``precision`` records it).
        strategy: the ``tf.distribute`` strategy of the run.
        batch_size: the training batch (the precision choice weighs a training step's FLOPs).
    """

    def __init__(self, build, strategy, batch_size=None):
        with strategy.scope():
            self.model, self.precision = build_for_training(build, batch_size=batch_size)
            self.model.optimizer.build(self.model.trainable_variables)
        self._variables = [*self.model.variables, *self.model.optimizer.variables]
        self._initial = [variable.numpy() for variable in self._variables]

    def reset(self):
        """The initial state back; returns the model."""
        for variable, value in zip(self._variables, self._initial):
            variable.assign(value)
        return self.model


def summarise_folds(fold_results, class_names):
    """Summary of a candidate's folds (each an ``evaluate_predictions`` dict, optionally with ``epochs_run`` and
    ``train_seconds``): ``<metric>_mean``, ``<metric>_sd`` (sample standard deviation, None for one fold) and
    ``<metric>_folds`` for accuracy, AUC, balanced accuracy and macro F1; per-class ``recall_mean`` and
    ``recall_sd``; the summed ``confusion_matrix``; ``folds_run``."""
    summary = {"folds_run": len(fold_results)}
    for metric in ("balanced_accuracy", "macro_f1", "auc", "accuracy"):
        values = np.array([np.nan if result[metric] is None else result[metric] for result in fold_results])
        summary[f"{metric}_mean"] = float(np.nanmean(values)) if np.isfinite(values).any() else None
        summary[f"{metric}_sd"] = float(np.nanstd(values, ddof=1)) if np.isfinite(values).sum() > 1 else None
        summary[f"{metric}_folds"] = values.tolist()
    recalls = {name: [result["per_class"][name]["recall"] for result in fold_results] for name in class_names}
    summary["recall_mean"] = {name: float(np.mean(values)) for name, values in recalls.items()}
    summary["recall_sd"] = {name: float(np.std(values, ddof=1)) if len(values) > 1 else None
                            for name, values in recalls.items()}
    summary["confusion_matrix"] = np.sum([result["confusion_matrix"] for result in fold_results], axis=0).tolist()
    for key in ("epochs_run", "train_seconds"):
        if key in fold_results[0]:
            summary[f"{key}_mean"] = float(np.mean([result[key] for result in fold_results]))
    return summary


def baseline_scores(name, y_train, count, num_classes, seed):
    """Scores float32 (count, num_classes) of a baseline: "majority_baseline" gives every case the training class
    frequencies (so it always predicts the largest class, and its AUC is 0.5); "chance_baseline" draws uniform
    random scores."""
    if name == "majority_baseline":
        prior = np.bincount(y_train, minlength=num_classes) / len(y_train)
        return np.tile(prior.astype(np.float32), (count, 1))
    if name != "chance_baseline":
        raise ValueError(f"unknown baseline {name!r}; the baselines are {', '.join(BASELINES)}.")
    scores = np.random.default_rng(seed).uniform(size=(count, num_classes)).astype(np.float32)
    return scores / scores.sum(axis=1, keepdims=True)


def fold_count(requested, labels, class_names):
    """``requested`` folds, reduced (with a warning) when a class has fewer cases than that.

    Raises:
        DataError: a class has fewer than two cases (no cross-validation possible); the message names it.
    """
    counts = np.bincount(labels, minlength=len(class_names))
    smallest = int(counts.min())
    if smallest >= requested:
        return requested
    name = class_names[int(np.argmin(counts))]
    if smallest < 2:
        raise DataError(f"class {name!r} has {smallest} training case(s); cross-validation needs at least 2 per class. "
                        "Add cases of that class or leave it out (--class-names).")
    print(f"warning: class {name!r} has only {smallest} training cases, fewer than --folds {requested}; "
          f"cross-validating with {smallest} folds instead.", file=sys.stderr)
    return smallest
