"""Checks of the parts of assignment 3 a student writes (``make check ASSIGNMENT=3``): the depth resampling
(``data.resample_depth``), late fusion and early fusion (``model.py``). About half a minute."""

import numpy as np

from common.checks import assert_close, assert_learns, assert_parameters, toy_classes
from common.volume_preprocess import resample

from .data import resample_depth
from .model import build_early_fusion_model, build_late_fusion_model

VOLUME = (8, 16, 16, 1)  # (D, H, W, 1), as the models take it


def depth_resampling_worked_example():
    """Depth resampling: slices 0, 10, 20 become 0, 5, 10, 15, 20 (corners aligned)."""
    volume = np.broadcast_to(np.array([0.0, 10.0, 20.0]), (2, 2, 3))
    assert_close(resample_depth(volume, 5), np.broadcast_to([0.0, 5.0, 10.0, 15.0, 20.0], (2, 2, 5)),
                 "resample_depth(slices 0, 10, 20 -> 5 slices)")
    assert_close(resample_depth(volume, 2), np.broadcast_to([0.0, 20.0], (2, 2, 2)), "resample_depth(-> 2 slices)")


def depth_resampling_is_linear_interpolation():
    """Depth resampling: agrees with trilinear resampling of the slice axis (scipy) on a random volume."""
    volume = np.random.default_rng(0).random((4, 5, 7))
    for depth in (3, 7, 12):
        assert_close(resample_depth(volume, depth), resample(volume, (4, 5, depth), dtype=np.float64),
                     f"resample_depth(volume of 7 slices, {depth})", 1e-9)


def late_fusion_shapes_and_weight_sharing():
    """Late fusion: (N, D, H, W, 1) in, (N, classes) probabilities out, the same features for every slice order."""
    model = build_late_fusion_model(VOLUME, 2, filters=(4, 8))
    volumes = np.random.default_rng(0).random((3, *VOLUME), dtype=np.float32)
    scores = np.asarray(model(volumes))
    assert scores.shape == (3, 2) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-5), \
        f"expected (3, 2) probabilities, got shape {scores.shape}"
    # One 2D network shared by all slices, then mean and max over the slices: the order of the slices cannot
    # matter. A network that mixes slices (a 3D kernel deeper than one slice) fails this.
    shuffled = np.asarray(model(volumes[:, ::-1]))
    assert np.allclose(scores, shuffled, atol=1e-5), "reversing the slices changed the output: the per-slice " \
                                                     "network must see one slice at a time (kernels (1, 3, 3))"
    assert "late_block_last" in {layer.name for layer in model.layers}, "name the last ReLU late_block_last"
    assert_parameters(model, 900, 1400, "late fusion with filters (4, 8)")


def early_fusion_slices_become_channels():
    """Early fusion: the first convolution sees the D slices as D channels of one (H, W) image."""
    model = build_early_fusion_model(VOLUME, 2, filters=(4, 8))
    first_conv = next(layer for layer in model.layers if type(layer).__name__ == "Conv2D")
    assert tuple(first_conv.input.shape[1:]) == (16, 16, 8), \
        f"the first 2D convolution takes {tuple(first_conv.input.shape[1:])}, expected (16, 16, 8)"
    volume = np.zeros((1, *VOLUME), np.float32)
    volume[0, 3, 5, 7, 0] = 1.0
    fused = next(layer for layer in model.layers if layer.name == "slices_as_channels")
    import keras

    image = np.asarray(keras.Model(model.input, fused.output)(volume))
    assert image[0, 5, 7, 3] == 1.0 and image.sum() == 1.0, "voxel (d=3, h=5, w=7) must land at (5, 7), channel 3"


def late_fusion_learns_a_toy_set():
    """Late fusion: learns a trivially separable toy set."""
    x, y = toy_classes(VOLUME, count=64)
    assert_learns(build_late_fusion_model(VOLUME, 2, filters=(4, 8), dropout_rate=0.0), x, y, epochs=20)


CHECKS = (depth_resampling_worked_example, depth_resampling_is_linear_interpolation,
          late_fusion_shapes_and_weight_sharing, early_fusion_slices_become_channels, late_fusion_learns_a_toy_set)
