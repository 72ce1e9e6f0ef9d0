"""Splitting labelled data without leaking the test split into training or model selection, and weighing its
classes: thin wrappers over scikit-learn that return sorted index arrays and explain a split that cannot be made.
"""

import numpy as np


def stratified_split(labels, fraction, seed=0):
    """Indices (keep, held_out) that hold out about ``fraction`` of every class (scikit-learn's
    ``train_test_split(..., stratify=labels)``).

    Args:
        labels: int array of shape (N,).
        fraction: share to hold out, in (0, 1); each class gives about that share (a class with fewer than
            about 1 / fraction members may give none).
        seed: seed for the shuffle; the same seed gives the same split.

    Returns:
        Two sorted int arrays that together cover range(N) exactly once.

    Raises:
        ValueError: ``fraction`` outside (0, 1), or a class with a single member (it cannot be on both sides).
    """
    from sklearn.model_selection import train_test_split

    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie strictly between 0 and 1, not {fraction}.")
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    if (counts < 2).any():
        raise ValueError(f"class {classes[counts < 2][0]} has a single member; a stratified split needs at least "
                         "two of every class. Collect more samples of it or leave it out.")
    keep, held_out = train_test_split(np.arange(len(labels)), test_size=fraction, stratify=labels,
                                      random_state=seed)
    return np.sort(keep), np.sort(held_out)


def stratified_kfold(labels, folds, seed=0):
    """Stratified k-fold cross-validation (scikit-learn's ``StratifiedKFold``, shuffled): ``folds`` pairs
    (train, held_out) of sorted index arrays; each index is held out in exactly one fold, and each fold holds
    every class in about its overall proportion.

    Raises:
        ValueError: ``folds`` < 2, or a class has fewer members than ``folds`` (some fold would hold none of
            it); the message names the class and how to fix it.
    """
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels)
    if int(folds) != folds or folds < 2:
        raise ValueError(f"folds must be an integer of at least 2, not {folds}.")
    classes, counts = np.unique(labels, return_counts=True)
    too_small = [(label, count) for label, count in zip(classes.tolist(), counts.tolist()) if count < folds]
    if too_small:
        listed = ", ".join(f"class {label} has {count}" for label, count in too_small)
        raise ValueError(f"{folds}-fold cross-validation needs at least {folds} samples of every class, but {listed}. "
                         f"Use fewer folds (at most {int(counts.min())}) or collect more samples of that class.")
    splitter = StratifiedKFold(n_splits=int(folds), shuffle=True, random_state=seed)
    return [(np.sort(train), np.sort(held_out)) for train, held_out in splitter.split(np.zeros(len(labels)), labels)]


def class_weights(labels, num_classes):
    """Inverse-frequency weights {label: N / (K * count)} for Keras's ``class_weight`` (scikit-learn's
    ``compute_class_weight("balanced")`` over the K classes present): every present class adds the same total
    weight to the loss. A class absent from ``labels`` gets weight 1 (it adds nothing either way)."""
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.asarray(labels).reshape(-1)
    present = np.unique(labels)
    weights = {label: 1.0 for label in range(int(num_classes))}
    if present.size:
        balanced = compute_class_weight("balanced", classes=present, y=labels)
        weights.update({int(label): float(weight) for label, weight in zip(present, balanced)})
    return weights


def stratified_group_split(labels, groups, fraction, seed=0):
    """Indices (keep, held_out) that hold out about ``fraction`` of the samples, whole groups at a time (every
    sample of a patient on one side), with each class in about its overall share (scikit-learn's
    ``StratifiedGroupKFold``, shuffled; the held-out side is its first fold of ``round(1 / fraction)``).

    Raises:
        ValueError: ``fraction`` outside (0, 0.5], or fewer groups than folds.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    if not 0.0 < fraction <= 0.5:
        raise ValueError(f"fraction must lie in (0, 0.5], not {fraction}.")
    labels, groups = np.asarray(labels), np.asarray(groups)
    folds = max(2, int(round(1.0 / fraction)))
    if len(np.unique(groups)) < folds:
        raise ValueError(f"{len(np.unique(groups))} groups (patients) cannot be split {folds} ways; hold out a larger "
                         "fraction or add patients.")
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    keep, held_out = next(splitter.split(np.zeros(len(labels)), labels, groups))
    return np.sort(keep), np.sort(held_out)
