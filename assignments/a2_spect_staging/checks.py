"""Checks of the parts of assignment 2 a student writes (``make check ASSIGNMENT=2``): the crop around the
striatum, the two intensity normalisations and the two ways of handling class imbalance (``data.py``), each
against a small example worked out by hand. A few seconds."""

import numpy as np

from common.checks import assert_close

from .config import A2Config
from .data import crop_around, normalize, oversample_indices, training_dataset

# A 6 x 6 image whose pixel (r, c) holds 6 r + c + 1, so its lowest value (the padding) is 1.
IMAGE = np.arange(36, dtype=np.float32).reshape(6, 6) + 1


def crop_inside_the_image():
    """Crop: a 2 x 2 crop centred on (2.0, 3.0) starts at row 1, column 2."""
    assert_close(crop_around(IMAGE, (2.0, 3.0), 2), [[9, 10], [15, 16]], "crop_around(image, (2.0, 3.0), 2)")


def crop_across_the_border():
    """Crop: a crop that reaches past the border is filled with the image's lowest value and keeps its size."""
    # Centre (0.2, 5.0), size 2: top = round(-0.8) = -1, left = round(4.0) = 4, so the crop covers rows -1..0
    # (row -1 is padding) and columns 4..5.
    assert_close(crop_around(IMAGE, (0.2, 5.0), 2), [[1, 1], [5, 6]], "crop_around(image, (0.2, 5.0), 2)")
    assert crop_around(IMAGE, (5.9, 5.9), 4).shape == (4, 4), "a crop at the corner must still be 4 x 4"


def normalise_per_image():
    """Normalisation "per_image": each crop divided by its own 99.5th percentile."""
    crops = np.stack([np.full((4, 4, 1), 2.0), np.full((4, 4, 1), 8.0)]).astype(np.float32)
    crops[1, 0, 0, 0] = 0.0  # one dark pixel hardly moves the 99.5th percentile
    scaled, scale = normalize(crops, "per_image")
    assert scale is None, f"per_image returns (images, None), got scale {scale!r}"
    assert_close(scaled[0], np.ones((4, 4, 1)), "the constant crop of 2s, per image", 1e-4)
    assert_close(scaled[1, 1:, 1:], np.ones((3, 3, 1)), "the crop of 8s, per image", 1e-4)


def normalise_per_data_set():
    """Normalisation "dataset": every crop divided by the reference's 99.5th percentile, or a given scale."""
    reference = np.linspace(0.0, 200.0, 2001, dtype=np.float32).reshape(1, -1, 1, 1)  # 99.5th percentile: 199
    crops = np.full((2, 2, 2, 1), 99.5, dtype=np.float32)
    scaled, scale = normalize(crops, "dataset", reference=reference)
    assert scale is not None and abs(scale - 199.0) < 1e-3, f"the scale should be 199.0, got {scale!r}"
    assert_close(scaled, np.full((2, 2, 2, 1), 0.5), "99.5 divided by the scale 199", 1e-4)
    scaled, scale = normalize(crops, "dataset", scale=99.5)
    assert_close(scaled, np.ones((2, 2, 2, 1)), "normalize(..., scale=99.5)")


def oversampling_balances_the_classes():
    """Oversampling: every case kept once, the smaller classes topped up to the largest."""
    labels = np.array([0, 0, 0, 0, 1, 2, 2])
    index = oversample_indices(labels, seed=0)
    assert index.dtype == np.int64, f"indices should be int64, got {index.dtype}"
    assert np.bincount(labels[index]).tolist() == [4, 4, 4], f"class counts {np.bincount(labels[index]).tolist()}"
    assert set(range(len(labels))) <= set(index.tolist()), "every original case must appear at least once"
    assert not np.array_equal(index[:4], [0, 1, 2, 3]), "the indices should come in a random order"


def class_weights_weight_each_case():
    """Class weighting: every case once, weighted N / (K * count of its class)."""
    x = np.zeros((6, 8, 8, 1), np.float32)
    y = np.array([0, 0, 0, 0, 1, 1])
    config = A2Config(augment=False, batch_size=6)
    _, targets, weights = next(iter(training_dataset(x, y, 2, "class_weight", config, seed=0)))
    by_class = {int(label): float(weight) for label, weight in zip(np.argmax(targets, axis=1), np.asarray(weights))}
    assert len(weights) == 6, f"class weighting keeps the 6 cases, got {len(weights)}"
    assert abs(by_class[0] - 0.75) < 1e-6 and abs(by_class[1] - 1.5) < 1e-6, \
        f"weights {by_class}; expected 6 / (2 x 4) = 0.75 for class 0 and 6 / (2 x 2) = 1.5 for class 1"
    _, targets, weights = next(iter(training_dataset(x, y, 2, "oversampling", config, seed=0)))
    assert np.allclose(np.asarray(weights), 1.0), "oversampled cases all weigh 1"


CHECKS = (crop_inside_the_image, crop_across_the_border, normalise_per_image, normalise_per_data_set,
          oversampling_balances_the_classes, class_weights_weight_each_case)
