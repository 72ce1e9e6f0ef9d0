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
    labels = np.repeat(np.arange(4), [100, 50, 20, 10])
    keep, held = stratified_split(labels, 0.1, seed=0)
    assert np.array_equal(np.sort(np.concatenate([keep, held])), np.arange(len(labels)))
    assert np.all(np.diff(keep) > 0) and np.all(np.diff(held) > 0), "sorted indices"
    assert np.all(np.abs(np.bincount(labels[held], minlength=4) - np.array([10, 5, 2, 1])) <= 1)
    assert np.array_equal(held, stratified_split(labels, 0.1, seed=0)[1])
    assert not np.array_equal(held, stratified_split(labels, 0.1, seed=1)[1])
    with pytest.raises(ValueError, match="class 4 has a single member"):
        stratified_split(np.append(labels, 4), 0.1)


def test_class_weights_balance_the_classes_and_survive_an_absent_one():
    from common.datasets.splits import class_weights

    labels = np.repeat([0, 1, 2], [20, 7, 3])
    weights = class_weights(labels, 3)
    assert [weights[k] * n for k, n in enumerate([20, 7, 3])] == pytest.approx([10.0, 10.0, 10.0])
    # A class absent from the training labels (possible in a small split) gets weight 1, not a division by zero.
    assert class_weights(np.repeat([0, 2], [6, 2]), 3) == pytest.approx({0: 8 / 12, 1: 1.0, 2: 2.0})


def test_stratified_kfold_partitions_and_keeps_class_proportions():
    from common.datasets.splits import stratified_kfold

    labels = np.repeat(np.arange(3), [30, 20, 7])
    folds = stratified_kfold(labels, 3, seed=1)
    assert len(folds) == 3
    held_out = np.concatenate([held for _, held in folds])
    assert np.array_equal(np.sort(held_out), np.arange(len(labels))), "each index is held out exactly once"
    for train, held in folds:
        assert np.intersect1d(train, held).size == 0 and len(train) + len(held) == len(labels)
        assert np.all(np.abs(np.bincount(labels[held], minlength=3) - np.array([10, 20 / 3, 7 / 3])) < 1)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, stratified_kfold(labels, 3, seed=1)))
    assert not np.array_equal(folds[0][1], stratified_kfold(labels, 3, seed=2)[0][1])


def test_stratified_kfold_refuses_a_class_smaller_than_the_folds():
    from common.datasets.splits import stratified_kfold

    with pytest.raises(ValueError, match=r"class 2 has 2.*at most 2"):
        stratified_kfold(np.repeat(np.arange(3), [10, 10, 2]), 3)
    with pytest.raises(ValueError, match="at least 2"):
        stratified_kfold(np.zeros(10), 1)
