"""Checks of the parts of assignment 4 a student writes (``make check ASSIGNMENT=4``): the 3D CNN
(``model.build_cnn3d``), the residual block of problem 3's ResNet (``model.residual_block``) and the
quantization calls (``quantization.convert_variants``). About half a minute."""

import tempfile

import numpy as np

from common.checks import assert_learns, assert_parameters, toy_classes
from common.quantize import MODES, tensor_dtypes

from .model import build_cnn3d, residual_block
from .quantization import convert_variants

VOLUME = (8, 8, 8, 1)


def cnn3d_shapes_and_parameters():
    """3D CNN: (N, D, H, W, 1) in, (N, classes) probabilities out, and its parameter count."""
    model = build_cnn3d((16, 16, 16, 1), 2, filters=(4, 8), convs_per_stage=2, dense_units=16, dropout_rate=0.5)
    scores = np.asarray(model(np.random.default_rng(0).random((3, 16, 16, 16, 1), dtype=np.float32)))
    assert scores.shape == (3, 2) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-5), \
        f"expected (3, 2) probabilities, got shape {scores.shape}"
    # Convolutions: 27 x (1x4 + 4x4 + 4x8 + 8x8) = 3,132 weights (no bias); batch norm, 4 numbers per channel:
    # 4 x (4 + 4 + 8 + 8) = 96; the 4^3 x 8 = 512 flattened features -> 16 -> 2: 8,208 + 34.
    assert_parameters(model, 11_470, 11_470, "the 3D CNN with filters (4, 8), two convolutions per stage")
    names = {layer.name for layer in model.layers}
    assert {"stage2_relu2", "flatten"} <= names, "name the layers as the TODO says (Grad-CAM uses stage2_relu2)"


def cnn3d_learns_a_toy_set():
    """3D CNN: learns a trivially separable toy set."""
    x, y = toy_classes(VOLUME, count=64)
    assert_learns(build_cnn3d(VOLUME, 2, filters=(4, 8), dense_units=16, dropout_rate=0.0), x, y, epochs=15)


def residual_block_starts_as_the_identity():
    """Residual block: with the last batch norm's scale at zero, a block that keeps the shape computes ReLU(x)."""
    import keras

    inputs = keras.Input((8, 8, 4))
    block = keras.Model(inputs, residual_block(inputs, 4, strides=1, name="check"))
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 4)).astype(np.float32)
    assert np.allclose(np.asarray(block(x)), np.maximum(x, 0.0), atol=1e-6), \
        "the identity shortcut plus a zero-scaled residual branch should give ReLU(x)"
    assert "check_out" in {layer.name for layer in block.layers}, "name the block's output layer <name>_out"
    # Two 3x3 convolutions of 4 -> 4 channels without bias (2 x 144), two batch norms (2 x 16).
    assert_parameters(block, 320, 320, "a basic block of 4 channels")


def residual_block_projects_when_the_shape_changes():
    """Residual block: a strided block halves the resolution and projects the shortcut (1x1 conv + batch norm)."""
    import keras

    inputs = keras.Input((8, 8, 4))
    block = keras.Model(inputs, residual_block(inputs, 8, strides=2, name="down"))
    assert tuple(block.output.shape[1:]) == (4, 4, 8), f"output {tuple(block.output.shape[1:])}, expected (4, 4, 8)"
    names = {layer.name for layer in block.layers}
    assert {"down_proj_conv", "down_proj_bn"} <= names, "the shortcut needs a 1x1 projection where the shape changes"
    # 3x3x4x8 + 3x3x8x8 + 1x1x4x8 = 896 weights, three batch norms of 8 channels (96).
    assert_parameters(block, 992, 992, "a strided block of 4 -> 8 channels")


def quantization_converts_every_variant():
    """Quantization: one LiteRT model per mode, the full-integer one with int8 input and weights."""
    import keras

    inputs = keras.Input((8, 8, 1))
    hidden = keras.layers.Flatten()(keras.layers.Conv2D(4, 3, activation="relu")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))
    images = np.random.default_rng(0).random((16, 8, 8, 1), dtype=np.float32)
    with tempfile.TemporaryDirectory() as folder:
        variants = convert_variants(model, images, folder, representative_count=16)
    assert isinstance(variants, dict) and set(variants) == set(MODES), \
        f"expected one model per mode {MODES}, got {sorted(variants) if isinstance(variants, dict) else variants!r}"
    assert all(isinstance(flat, bytes) and flat for flat in variants.values()), "every variant is .tflite bytes"
    dtypes = tensor_dtypes(variants["full_int8"])
    assert dtypes["input"] == "INT8" and "INT8" in dtypes["weights"], \
        f"full_int8 must take int8 input and hold int8 weights (calibrated on the images); got {dtypes}"


CHECKS = (cnn3d_shapes_and_parameters, cnn3d_learns_a_toy_set, residual_block_starts_as_the_identity,
          residual_block_projects_when_the_shape_changes, quantization_converts_every_variant)
