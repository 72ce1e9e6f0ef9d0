"""Splitting labelled data without leaking the test split into training or model selection."""

import numpy as np


def stratified_split(labels, fraction, seed=0):
    """Indices (keep, held_out) that hold out ``fraction`` of every class.

    Args:
        labels: int array of shape (N,).
        fraction: share of each class to hold out, in (0, 1).
        seed: seed for the shuffle; the same seed gives the same split.

    Returns:
        Two sorted int arrays that together cover range(N) exactly once.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie strictly between 0 and 1, not {fraction}.")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    held_out = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rng.shuffle(members)
        count = int(round(len(members) * fraction))
        if len(members) > 1:
            count = min(max(count, 1), len(members) - 1)
        held_out.append(members[:count])
    held_out = np.sort(np.concatenate(held_out))
    keep = np.setdiff1d(np.arange(len(labels)), held_out)
    return keep, held_out


def stratified_kfold(labels, folds, seed=0):
    """Stratified k-fold cross-validation: ``folds`` pairs (train, held_out) of sorted index arrays.

    Every class's members are shuffled (seeded) and dealt to the folds in turn, so each fold holds every class
    in about its overall proportion (fold sizes per class differ by at most one), and each index is held out
    in exactly one fold.

    Args:
        labels: int array of shape (N,).
        folds: number of folds, at least 2.
        seed: seed for the shuffle; the same seed gives the same folds.

    Returns:
        A list of ``folds`` tuples (train_indices, held_out_indices).

    Raises:
        ValueError: ``folds`` < 2, or a class has fewer members than ``folds`` (some fold would hold none of
            it); the message names the class and how to fix it.
    """
    labels = np.asarray(labels)
    if int(folds) != folds or folds < 2:
        raise ValueError(f"folds must be an integer of at least 2, not {folds}.")
    classes, counts = np.unique(labels, return_counts=True)
    too_small = [(label, count) for label, count in zip(classes.tolist(), counts.tolist()) if count < folds]
    if too_small:
        listed = ", ".join(f"class {label} has {count}" for label, count in too_small)
        raise ValueError(f"{folds}-fold cross-validation needs at least {folds} samples of every class, but {listed}. "
                         f"Use fewer folds (at most {int(counts.min())}) or collect more samples of that class.")
    rng = np.random.default_rng(seed)
    assignment = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for label in classes:
        members = np.flatnonzero(labels == label)
        rng.shuffle(members)
        # Start each class where the previous one stopped, so the larger folds are not always the first ones.
        assignment[members] = (np.arange(len(members)) + offset) % folds
        offset = (offset + len(members)) % folds
    everything = np.arange(len(labels))
    return [(everything[assignment != fold], everything[assignment == fold]) for fold in range(folds)]
