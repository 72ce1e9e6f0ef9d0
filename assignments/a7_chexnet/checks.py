"""Checks of the parts of assignment 7 a student writes (``make check ASSIGNMENT=7``): the dense block
(``model.dense_block``) and CheXNet's weighted loss (``model.weighted_binary_crossentropy``). About ten seconds."""

import numpy as np

from common.checks import assert_close, assert_parameters, toy_classes

from .model import WeightedBinaryCrossentropy, build_compact_densenet, dense_block


def dense_block_grows_by_the_growth_rate():
    """Dense block: each layer adds growth_rate channels to its input, keeps the size; DenseNet-BC's parameters."""
    import keras

    inputs = keras.Input((8, 8, 8))
    outputs = dense_block(inputs, 2, 4, name="check")
    model = keras.Model(inputs, outputs)
    assert tuple(outputs.shape[1:]) == (8, 8, 16), \
        f"2 layers of growth 4 on 8 channels make (8, 8, 16); got {tuple(outputs.shape[1:])}"
    # Layer 1: batch norm of 8 channels (32 weights with its statistics), 1x1 conv 8 -> 16 (128), batch norm of 16
    # (64), 3x3 conv 16 -> 4 (576); layer 2 the same on 12 channels: 48 + 192 + 64 + 576. No biases.
    assert_parameters(model, 1_680, 1_680, "a dense block of 2 layers, growth 4, on 8 channels")
    names = {layer.name for layer in model.layers}
    for name in ("check_block1_1_conv", "check_block2_2_conv", "check_block2_concat"):
        assert name in names, f"name the layers as the TODO says (no layer {name})"
    probe = np.random.default_rng(0).normal(size=(2, 8, 8, 8)).astype(np.float32)
    assert_close(np.asarray(model(probe))[..., :8], probe, "the block's first 8 channels (its input, concatenated)",
                 tolerance=1e-6)


def weighted_loss_matches_the_formula():
    """Weighted loss: -(w+ y log p + w- (1 - y) log(1 - p)), averaged; finite at p = 0 and 1."""
    y = np.array([[1.0], [0.0], [1.0], [0.0]], np.float32)
    p = np.array([[0.9], [0.2], [0.3], [0.6]], np.float32)
    loss = WeightedBinaryCrossentropy(0.25, 0.75)
    expected = -np.mean(0.25 * y * np.log(p) + 0.75 * (1 - y) * np.log(1 - p))
    assert_close(float(loss(y, p)), expected, "the weighted loss of four examples", tolerance=1e-5)
    per_example = np.asarray(loss.call(y, p))
    assert per_example.shape == (4,), f"call returns one loss per example, (4,); got {per_example.shape}"
    extreme = float(loss(y, np.array([[0.0], [1.0], [1.0], [0.0]], np.float32)))
    assert np.isfinite(extreme), "clip the probabilities: log(0) made the loss infinite"


def compact_densenet_learns_a_toy_set():
    """Compact DenseNet: with the weighted loss it learns a trivially separable toy set."""
    import keras

    from common.reproducibility import set_seed
    from common.train import recalibrate_batch_norm

    set_seed(0)
    x, y = toy_classes((16, 16, 1), count=64)
    model = build_compact_densenet((16, 16, 1), blocks=(2, 2), growth_rate=4, stem_filters=8, augment=False)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=WeightedBinaryCrossentropy(0.5, 0.5))
    model.fit(x, y[:, None].astype(np.float32), epochs=20, batch_size=16, verbose=0)
    recalibrate_batch_norm(model, x)  # a few dozen steps leave batch norm's moving averages far from the data
    accuracy = float(((model.predict(x, verbose=0)[:, 0] >= 0.5) == y).mean())
    assert accuracy >= 0.95, (f"after 20 epochs on a trivially separable toy set the baseline classifies "
                              f"{accuracy:.0%} of it correctly (expected at least 95%); check the dense block and "
                              "the loss")


CHECKS = (dense_block_grows_by_the_growth_rate, weighted_loss_matches_the_formula, compact_densenet_learns_a_toy_set)
