"""Grad-CAM must point at the evidence: toy tasks whose signal sits in a known region."""

import keras
import numpy as np
import pytest

from common.gradcam import grad_cam, last_conv_layer_name, overlay
from common.reproducibility import set_seed


def _toy(shape, n=240, seed=0):
    """Class 1 has a bright square in the upper-left quarter (2D) or octant (3D); class 0 does not."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 0.3, size=(n, *shape, 1)).astype("float32")
    y = np.arange(n) % 2
    region = tuple(slice(2, 6) for _ in shape)
    for i in np.flatnonzero(y == 1):
        x[(i, *region, 0)] += 2.0
    return x, y, region


def _train(x, y, conv, pool):
    inputs = keras.Input(x.shape[1:])
    h = conv(8, 3, padding="same", activation="relu", name="conv_a")(inputs)
    h = pool()(h)
    h = conv(8, 3, padding="same", activation="relu", name="conv_b")(h)
    h = keras.layers.GlobalMaxPooling2D()(h) if conv is keras.layers.Conv2D else keras.layers.GlobalMaxPooling3D()(h)
    outputs = keras.layers.Dense(2, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert model.evaluate(x, y, verbose=0)[1] > 0.95
    return model


@pytest.mark.parametrize("rank", [2, 3])
def test_heatmap_peak_falls_in_the_signal_region(rank):
    set_seed(0)
    shape = (16, 16) if rank == 2 else (12, 12, 12)
    x, y, region = _toy(shape)
    conv = keras.layers.Conv2D if rank == 2 else keras.layers.Conv3D
    pool = keras.layers.MaxPooling2D if rank == 2 else keras.layers.MaxPooling3D
    model = _train(x, y, conv, pool)
    assert last_conv_layer_name(model) == "conv_b"
    positives = x[y == 1][:10]
    heatmaps, classes = grad_cam(model, positives, class_index=1)
    assert heatmaps.shape == (10, *shape) and classes.tolist() == [1] * 10
    assert heatmaps.min() >= 0.0 and heatmaps.max() <= 1.0
    # With a 1-voxel margin for the resize, every map's peak lies on the planted square.
    grown = tuple(slice(s.start - 1, s.stop + 1) for s in region)
    mask = np.zeros(shape, bool)
    mask[grown] = True
    for heatmap in heatmaps:
        assert mask[np.unravel_index(heatmap.argmax(), shape)]
    assert heatmaps[:, mask].mean() > 2 * heatmaps[:, ~mask].mean()


def test_nested_backbone_is_explained_with_a_clear_error():
    inner = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3)], name="backbone")
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inner(inputs)))
    with pytest.raises(ValueError, match="built flat"):
        last_conv_layer_name(keras.Model(inputs, outputs))


def test_overlay_is_an_rgb_image_in_range():
    result = overlay(np.random.rand(8, 8, 1), np.random.rand(8, 8))
    assert result.shape == (8, 8, 3) and result.min() >= 0 and result.max() <= 1
