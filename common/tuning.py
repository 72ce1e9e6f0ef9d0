"""A small, documented hyper-parameter search: random sampling without replacement from a grid.

Random search finds good settings with far fewer trials than a full grid when only a few of the
hyper-parameters matter (Bergstra & Bengio, JMLR 2012). Each trial is scored on a validation split carved
from the training data; the test split plays no part in the search.
"""

import itertools

import numpy as np


def sample_search_space(space, num_trials, seed=0):
    """Pick ``num_trials`` distinct settings from the grid ``space`` ({name: sequence of options}).

    Returns:
        A list of dicts {name: value}; the whole grid, in grid order, if it has no more than ``num_trials``
        points. The same seed gives the same trials.
    """
    if num_trials < 1:
        raise ValueError(f"num_trials must be at least 1, not {num_trials}.")
    empty = [name for name, options in space.items() if len(options) == 0]
    if empty:
        raise ValueError(f"The search space gives no options for {', '.join(empty)}.")
    names = list(space)
    grid = list(itertools.product(*(space[name] for name in names)))
    if len(grid) <= num_trials:
        chosen = grid
    else:
        picks = np.random.default_rng(seed).choice(len(grid), size=num_trials, replace=False)
        chosen = [grid[i] for i in sorted(picks)]
    return [dict(zip(names, values)) for values in chosen]
