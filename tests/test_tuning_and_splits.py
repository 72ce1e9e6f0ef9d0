import numpy as np
import pytest

from common.datasets.splits import stratified_split
from common.tuning import sample_search_space

SPACE = {"width": (8, 16, 32), "rate": (0.1, 0.2), "batch": (32, 64)}


def test_search_is_seeded_distinct_and_inside_the_grid():
    trials = sample_search_space(SPACE, 5, seed=3)
    assert trials == sample_search_space(SPACE, 5, seed=3)
    assert len({tuple(t.values()) for t in trials}) == 5
    assert all(t["width"] in SPACE["width"] and t["rate"] in SPACE["rate"] for t in trials)
    assert trials != sample_search_space(SPACE, 5, seed=4)


def test_small_grid_is_searched_whole():
    assert len(sample_search_space(SPACE, 100)) == 12


def test_empty_options_are_an_error():
    with pytest.raises(ValueError, match="width"):
        sample_search_space({"width": ()}, 2)


def test_stratified_split_holds_out_each_class_and_partitions():
    labels = np.repeat(np.arange(4), [100, 50, 20, 3])
    keep, held = stratified_split(labels, 0.1, seed=0)
    assert np.array_equal(np.sort(np.concatenate([keep, held])), np.arange(len(labels)))
    assert np.bincount(labels[held]).tolist() == [10, 5, 2, 1]
    assert np.array_equal(held, stratified_split(labels, 0.1, seed=0)[1])
