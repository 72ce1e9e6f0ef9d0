"""Checks of the parts of assignment 6 a student writes (``make check ASSIGNMENT=6``): the Attention U-Net's
gate (``model.attention_gate``) and the paired augmentation of the training crops (``data.augmented_crop``).
About fifteen seconds."""

import dataclasses

import numpy as np
from scipy.ndimage import gaussian_filter

from common.checks import assert_parameters

from .config import A6Config
from .data import augmented_crop
from .model import attention_gate, build_model, compile_segmenter


def _gate_model(inter_channels=2):
    import keras

    skip, gating = keras.Input((8, 8, 4), name="skip"), keras.Input((8, 8, 4), name="gating")
    return keras.Model([skip, gating], attention_gate(skip, gating, inter_channels, name="gate"))


def gate_shapes_names_and_parameters():
    """Attention gate: keeps the skip connection's shape, its map is the layer <name>, and its parameters."""
    model = _gate_model()
    skip = np.random.default_rng(0).random((2, 8, 8, 4), dtype=np.float32)
    output = np.asarray(model([skip, skip]))
    assert output.shape == skip.shape, f"the gated skip has the skip's shape {skip.shape}, got {output.shape}"
    names = {layer.name for layer in model.layers}
    assert {"gate", "gate_skip", "gate_gating", "gate_gated"} <= names, \
        f"name the layers as the TODO says (the figure reads the map 'gate'); found {sorted(names)}"
    assert tuple(model.get_layer("gate").output.shape[1:]) == (8, 8, 1), "the map alpha has one channel"
    # W_x: 4 x 2 (no bias); W_g: 4 x 2 + 2; psi: 2 x 1 + 1.
    assert_parameters(model, 21, 21, "a gate of 4 channels through 2")


def gate_scales_the_skip_by_its_map():
    """Attention gate: with W_x = W_g = 0 and psi's bias b, every pixel of the skip is scaled by sigmoid(b)."""
    model = _gate_model()
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([np.zeros_like(value) for value in weights])
    bias = 1.5
    psi = model.get_layer("gate")
    psi.set_weights([np.zeros_like(psi.get_weights()[0]), np.full_like(psi.get_weights()[1], bias)])
    skip = np.random.default_rng(1).random((2, 8, 8, 4), dtype=np.float32)
    expected = skip / (1.0 + np.exp(-bias))
    assert np.allclose(np.asarray(model([skip, skip])), expected, atol=1e-5), \
        "the output should be skip x alpha, with alpha = sigmoid(psi(ReLU(W_x skip + W_g gating)))"


def attention_unet_learns_a_disc():
    """Attention U-Net: with your gate it learns a disc mask on a toy set (pixel accuracy at least 0.95)."""
    import keras

    from common.reproducibility import set_seed

    set_seed(0)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:32, :32]
    masks = np.stack([((yy - cy) ** 2 + (xx - cx) ** 2 < 64).astype(np.int64)
                      for cy, cx in rng.integers(9, 23, size=(48, 2))])
    images = (0.6 * masks + rng.uniform(0.0, 0.4, size=masks.shape)).astype(np.float32)[..., None]
    model = compile_segmenter(build_model("attention_unet", (32, 32, 1), 2, (8, 16), 0.0), 3e-3, 1.0)
    model.fit(images, keras.utils.to_categorical(masks, 2), epochs=12, batch_size=8, verbose=0)
    accuracy = float((model.predict(images, verbose=0).argmax(-1) == masks).mean())
    assert accuracy >= 0.95, f"pixel accuracy {accuracy:.3f} after 12 epochs on a trivial disc set, expected 0.95"


def augmented_crops_keep_image_and_mask_together():
    """Augmentation: a crop of the right size, a mask of class indices, and one transform for image and mask."""
    config = dataclasses.replace(A6Config(), elastic_alpha=3.0, elastic_sigma=10.0)
    rng = np.random.default_rng(0)
    # A smooth image whose mask is its bright part: any transform that moves one and not the other breaks that.
    image = gaussian_filter(rng.random((96, 96)), 4.0)
    image = ((image - image.min()) / np.ptp(image)).astype(np.float32)
    mask = (image > 0.5).astype(np.int64)
    agreements = []
    for _ in range(12):
        crop_image, crop_mask = augmented_crop(image[..., None], mask, (48, 48), config, rng)
        assert crop_image.shape == (48, 48, 1) and crop_mask.shape == (48, 48), \
            f"expected a (48, 48, 1) image and a (48, 48) mask, got {crop_image.shape} and {crop_mask.shape}"
        assert np.issubdtype(crop_mask.dtype, np.integer) and set(np.unique(crop_mask)) <= {0, 1}, \
            "the mask must stay class indices (nearest-neighbour, not interpolated)"
        agreements.append(float(((crop_image[..., 0] > 0.5) == crop_mask).mean()))
    assert min(agreements) > 0.97, \
        f"image and mask no longer match after augmentation (agreement {min(agreements):.3f}): one transform for both"
    flipped = [augmented_crop(image[..., None], mask, (96, 96), dataclasses.replace(config, elastic_alpha=0.0),
                              np.random.default_rng(seed))[0] for seed in range(8)]
    assert any(not np.array_equal(crop[..., 0], image) for crop in flipped), "flips and turns are never applied"


CHECKS = (gate_shapes_names_and_parameters, gate_scales_the_skip_by_its_map, attention_unet_learns_a_disc,
          augmented_crops_keep_image_and_mask_together)
