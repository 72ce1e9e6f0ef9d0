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
