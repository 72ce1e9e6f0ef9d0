"""Residual networks from scratch (He et al., CVPR 2016), 2D or 3D from the input shape.

``build_resnet`` stacks stages of residual blocks: the basic block (two 3x3 convolutions, ResNet-18/34) or
the bottleneck block (1x1 reduce, 3x3, 1x1 expand by 4, ResNet-50). Each block is conv -> BN -> ReLU with an
identity skip, or a strided 1x1 projection skip where the shape changes. The stem is chosen for the input
size: a 3x3 stride-1 convolution with no max-pool for small inputs (28 px), where ImageNet's 7x7 stride-2
stem and max-pool would shrink the image to 7 px before the first block; the ImageNet stem for large ones.
"""

from common.models.layers import classifier_head, conv, conv_bn_relu, global_average_pool, max_pool, spatial_rank
from common.tf_setup import import_tensorflow_quietly

import_tensorflow_quietly()
import keras  # noqa: E402
from keras import layers  # noqa: E402

BOTTLENECK_EXPANSION = 4


def residual_block(x, filters, strides=1, bottleneck=False, name="block"):
    """One residual block; the output has ``filters`` (basic) or ``4 * filters`` (bottleneck) channels."""
    rank = spatial_rank(x)
    out_channels = filters * BOTTLENECK_EXPANSION if bottleneck else filters
    shortcut = x
    if strides != 1 or x.shape[-1] != out_channels:
        shortcut = conv(rank, out_channels, 1, strides, name=f"{name}_proj_conv")(x)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    if bottleneck:
        y = conv_bn_relu(x, filters, 1, 1, name=f"{name}_1")
        y = conv_bn_relu(y, filters, 3, strides, name=f"{name}_2")
        y = conv(rank, out_channels, 1, name=f"{name}_3_conv")(y)
    else:
        y = conv_bn_relu(x, filters, 3, strides, name=f"{name}_1")
        y = conv(rank, out_channels, 3, name=f"{name}_2_conv")(y)
    # Zero-initialised last scale: every block starts as the identity, which steadies early training
    # of deep residual stacks (Goyal et al., 2017).
    y = layers.BatchNormalization(gamma_initializer="zeros", name=f"{name}_last_bn")(y)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([shortcut, y]))


def resnet_outputs(x, num_classes, stage_blocks=(2, 2, 2, 2), stage_filters=(64, 128, 256, 512), bottleneck=False,
                   small_input_stem=True, stem_filters=None, dropout_rate=0.0, stem_strides=1):
    """Apply a ResNet classifier to tensor ``x`` (N, H, W, C) or (N, D, H, W, C); returns the softmax output
    tensor (see ``build_resnet`` for the arguments). The last block's output layer is named
    ``stage<S>_block<B>_out``, the natural Grad-CAM layer."""
    if len(stage_blocks) != len(stage_filters):
        raise ValueError(f"stage_blocks {stage_blocks} and stage_filters {stage_filters} need the same length.")
    rank = spatial_rank(x)
    stem_filters = stem_filters or stage_filters[0]
    if small_input_stem:
        x = conv_bn_relu(x, stem_filters, 3, stem_strides, name="stem")
    else:
        x = conv_bn_relu(x, stem_filters, 7, 2, name="stem")
        x = max_pool(rank, 3, strides=2, name="stem_pool")(x)
    for stage, (blocks, filters) in enumerate(zip(stage_blocks, stage_filters), start=1):
        for block in range(blocks):
            strides = 2 if stage > 1 and block == 0 else 1
            x = residual_block(x, filters, strides, bottleneck, name=f"stage{stage}_block{block + 1}")
    x = global_average_pool(rank, name="pool")(x)
    return classifier_head(x, num_classes, dropout_rate=dropout_rate)


def last_block_name(stage_blocks):
    """The name of the last residual block's output layer, e.g. "stage4_block2_out"."""
    return f"stage{len(stage_blocks)}_block{stage_blocks[-1]}_out"


def build_resnet(input_shape, num_classes, stage_blocks=(2, 2, 2, 2), stage_filters=(64, 128, 256, 512),
                 bottleneck=False, small_input_stem=True, stem_filters=None, dropout_rate=0.0, stem_strides=1,
                 name="resnet"):
    """A ResNet classifier for images (H, W, C) or volumes (D, H, W, C).

    Args:
        input_shape: (H, W, C) or (D, H, W, C).
        num_classes: softmax outputs.
        stage_blocks: residual blocks per stage; (2, 2, 2, 2) with basic blocks is ResNet-18, (3, 4, 6, 3)
            with bottlenecks ResNet-50. Every stage after the first halves the resolution.
        stage_filters: width of each stage (the bottleneck's inner width).
        bottleneck: bottleneck blocks instead of basic ones.
        small_input_stem: 3x3 stride-1 stem without max-pool (for inputs of about 28-64 px per side).
        stem_filters: the stem's width (default: the first stage's).
        dropout_rate: dropout before the classifier.
        stem_strides: stride of the small-input stem; 2 halves the resolution before the first stage, which
            cuts the cost of a 3D network about eightfold.

    Returns:
        An uncompiled ``keras.Model`` with softmax outputs (N, num_classes).
    """
    inputs = keras.Input(input_shape, name="image")
    outputs = resnet_outputs(inputs, num_classes, stage_blocks, stage_filters, bottleneck, small_input_stem,
                             stem_filters, dropout_rate, stem_strides)
    return keras.Model(inputs, outputs, name=name)
