"""ImageNet backbones built flat (common.models.transfer): pretrained weights reach the flat base, the right
layers are frozen, the preprocessing is ImageNet's, and Grad-CAM finds the backbone's last convolution."""

import keras
import numpy as np
import pytest

from common.gradcam import grad_cam, last_conv_layer_name
from common.models.transfer import IMAGENET_BGR_MEAN, copy_weights_by_name
from common.models.vgg import build_vgg16_transfer


def test_vgg16_takes_a_local_weights_file_and_fine_tunes_only_its_last_block(tmp_path):
    plain = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    weights_file = tmp_path / "vgg16_notop.weights.h5"
    plain.save_weights(weights_file)

    model = build_vgg16_transfer((28, 28, 1), 3, weights=str(weights_file), trainable_blocks=1, image_size=32,
                                 dense_units=8)
    for name in ("block1_conv1", "block5_conv3"):
        for copied, original in zip(model.get_layer(name).get_weights(), plain.get_layer(name).get_weights()):
            np.testing.assert_array_equal(copied, original)
    trainable = {layer.name for layer in model.layers if layer.trainable and layer.weights}
    assert {"block5_conv1", "block5_conv2", "block5_conv3"} <= trainable
    assert not any(name.startswith(("block1", "block4", "imagenet_preprocessing")) for name in trainable)
    assert last_conv_layer_name(model) == "block5_conv3"
    maps, _ = grad_cam(model, np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32), class_index=1)
    assert maps.shape[0] == 2 and np.isfinite(maps).all()

    # Grey 0.5 becomes 127.5 in each of B, G, R, minus ImageNet's mean.
    preprocessing = keras.Model(model.input, model.get_layer("imagenet_preprocessing").output)
    pixel = preprocessing.predict(np.full((1, 28, 28, 1), 0.5, np.float32), verbose=0)[0, 0, 0]
    np.testing.assert_allclose(pixel, 127.5 - np.array(IMAGENET_BGR_MEAN), rtol=1e-5)


def test_frozen_base_and_too_small_images():
    frozen = build_vgg16_transfer((32, 32, 3), 2, weights=None, trainable_blocks=0, dense_units=8)
    assert not any(layer.trainable for layer in frozen.layers if layer.name.startswith("block"))
    with pytest.raises(ValueError, match="VGG16 needs images of at least 32 px; set image_size"):
        build_vgg16_transfer((28, 28, 3), 2, weights=None)
    with pytest.raises(ValueError, match="trainable_blocks must be 0-5"):
        build_vgg16_transfer((32, 32, 3), 2, weights=None, trainable_blocks=6)


def test_copy_weights_by_name_refuses_a_target_without_the_layer():
    source = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="head")])
    target = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="other")])
    with pytest.raises(ValueError):
        copy_weights_by_name(source, target)
    twin = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="head")])
    copy_weights_by_name(source, twin)
    np.testing.assert_array_equal(twin.get_layer("head").get_weights()[0], source.get_layer("head").get_weights()[0])
