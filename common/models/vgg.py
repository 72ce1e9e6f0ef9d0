"""VGG-style networks (Simonyan & Zisserman, ICLR 2015): a compact VGG16 for small medical images, and
ImageNet VGG16 transfer learning built flat.

``build_compact_vgg`` keeps VGG16's pattern (blocks of 3x3 convolutions, each block followed by a 2x2
max-pool, the width doubling from block to block) with fewer blocks and filters, plus batch norm, so that it
trains from scratch on a few thousand images. ``build_vgg16_transfer`` puts ImageNet VGG16's convolutional
layers *into* the classifier (``VGG16(include_top=False, input_tensor=...)``), not as a nested model, so
Grad-CAM can reach its last convolution, and freezes all of it or all but its last block.
"""

from common.models.layers import classifier_head, conv_bn_relu, global_average_pool, max_pool, spatial_rank
from common.models.transfer import build_flat_transfer
from common.tf_setup import import_tensorflow_quietly

import_tensorflow_quietly()
import keras  # noqa: E402

VGG16_MIN_SIZE = 32


def compact_vgg_outputs(x, num_classes, block_filters=(16, 32, 64, 128), convs_per_block=(2, 2, 3, 3),
                        dense_units=128, dropout_rate=0.5):
    """Apply a compact VGG16-style classifier to tensor ``x`` (N, H, W, C) or (N, D, H, W, C); returns the
    softmax output tensor. Use it to put the network after other layers of one flat model."""
    if len(block_filters) != len(convs_per_block):
        raise ValueError(f"block_filters {block_filters} and convs_per_block {convs_per_block} need the same length.")
    rank = spatial_rank(x)
    for block, (filters, convs) in enumerate(zip(block_filters, convs_per_block), start=1):
        for index in range(convs):
            x = conv_bn_relu(x, filters, name=f"block{block}_conv{index + 1}")
        x = max_pool(rank, name=f"block{block}_pool")(x)
    x = global_average_pool(rank, name="pool")(x)
    return classifier_head(x, num_classes, dense_units=dense_units, dropout_rate=dropout_rate)


def build_compact_vgg(input_shape, num_classes, block_filters=(16, 32, 64, 128), convs_per_block=(2, 2, 3, 3),
                      dense_units=128, dropout_rate=0.5, name="compact_vgg"):
    """A VGG16-style classifier for images (H, W, C) or volumes (D, H, W, C) with batch norm.

    VGG16 itself has blocks of (2, 2, 3, 3, 3) convolutions with (64, 128, 256, 512, 512) filters; the default
    here has four blocks and an eighth of the width (about 0.3 M parameters for 2D input).

    Returns:
        An uncompiled ``keras.Model`` with softmax outputs (N, num_classes).
    """
    inputs = keras.Input(input_shape, name="image")
    outputs = compact_vgg_outputs(inputs, num_classes, block_filters, convs_per_block, dense_units, dropout_rate)
    return keras.Model(inputs, outputs, name=name)


def build_vgg16_transfer(input_shape, num_classes, weights="imagenet", trainable_blocks=0, image_size=None,
                         dense_units=256, dropout_rate=0.5, name="vgg16_transfer"):
    """ImageNet VGG16's convolutional base (flat) with a global-average-pooling + dense head.

    Args:
        input_shape: (H, W, C) with C = 1 or 3, values in [0, 1].
        weights: "imagenet" (downloaded by Keras, needs internet the first time), a path to a weights file,
            or None for random initialisation (then the rows are not transfer learning; say so).
        trainable_blocks: 0 freezes the whole base (feature extraction); 1 fine-tunes block 5, 2 blocks 4-5.
        image_size: resize inputs to this size inside the model (VGG16 needs at least 32 px; small inputs
            such as 28-px MedMNIST images are upsampled, e.g. to 64).

    Returns:
        An uncompiled ``keras.Model``; its VGG16 layers keep their Keras names (block1_conv1 ...
        block5_conv3), so ``common.gradcam`` finds ``block5_conv3``.
    """
    if not 0 <= trainable_blocks <= 5:
        raise ValueError(f"trainable_blocks must be 0-5, got {trainable_blocks}.")
    return build_flat_transfer(keras.applications.VGG16, input_shape, num_classes, weights=weights,
                               trainable_prefixes=[f"block{block}" for block in range(6 - trainable_blocks, 6)],
                               min_size=VGG16_MIN_SIZE, image_size=image_size, dense_units=dense_units,
                               dropout_rate=dropout_rate, name=name)
