"""Residual networks from scratch (He et al., CVPR 2016), 2D or 3D from the input shape.

``build_resnet`` stacks stages of residual blocks: the basic block (two 3x3 convolutions, ResNet-18/34) or
the bottleneck block (1x1 reduce, 3x3, 1x1 expand by 4, ResNet-50). Each block is conv -> BN -> ReLU with an
identity skip, or a strided 1x1 projection skip where the shape changes. The stem is chosen for the input
size: a 3x3 stride-1 convolution with no max-pool for small inputs (28 px), where ImageNet's 7x7 stride-2
stem and max-pool would shrink the image to 7 px before the first block; the ImageNet stem for large ones.
"""

from common.models.layers import classifier_head, conv, conv_bn_relu, global_average_pool, max_pool, spatial_rank
from common.models.transfer import build_flat_transfer
from common.tf_setup import import_tensorflow_quietly

import_tensorflow_quietly()
import keras  # noqa: E402
from keras import layers  # noqa: E402

BOTTLENECK_EXPANSION = 4


def residual_block(x, filters, strides=1, bottleneck=False, name="block", subsample_projection=False):
    """One residual block; the output has ``filters`` (basic) or ``4 * filters`` (bottleneck) channels.

    ``subsample_projection=True`` writes a strided 1x1 projection as what it computes, every ``strides``-th
    voxel (a 1x1 max-pool with that stride) followed by a 1x1 convolution: the same function and weights, but
    it avoids TensorFlow 2.21's oneDNN gradient of strided 1x1 2D convolutions on the CPU, which corrupts
    memory and crashes the process for some shapes (e.g. 50 x 50 x 8 inputs in batches of 16).
    """
    rank = spatial_rank(x)
    out_channels = filters * BOTTLENECK_EXPANSION if bottleneck else filters
    shortcut = x
    if strides != 1 or x.shape[-1] != out_channels:
        if subsample_projection and strides != 1:
            shortcut = max_pool(rank, 1, strides=strides, name=f"{name}_proj_subsample")(shortcut)
            strides_of_projection = 1
        else:
            strides_of_projection = strides
        shortcut = conv(rank, out_channels, 1, strides_of_projection, name=f"{name}_proj_conv")(shortcut)
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
                   small_input_stem=True, stem_filters=None, dropout_rate=0.0, stem_strides=1,
                   subsample_projection=False, block=None):
    """Apply a ResNet classifier to tensor ``x`` (N, H, W, C) or (N, D, H, W, C); returns the softmax output
    tensor (see ``build_resnet`` for the arguments). The last block's output layer is named
    ``stage<S>_block<B>_out``, the natural Grad-CAM layer."""
    if block is None:
        def block(x, filters, strides, name):
            return residual_block(x, filters, strides, bottleneck, name=name, subsample_projection=subsample_projection)

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
        for index in range(blocks):
            strides = 2 if stage > 1 and index == 0 else 1
            x = block(x, filters, strides, name=f"stage{stage}_block{index + 1}")
    x = global_average_pool(rank, name="pool")(x)
    return classifier_head(x, num_classes, dropout_rate=dropout_rate)


def last_block_name(stage_blocks):
    """The name of the last residual block's output layer, e.g. "stage4_block2_out"."""
    return f"stage{len(stage_blocks)}_block{stage_blocks[-1]}_out"


def build_resnet(input_shape, num_classes, stage_blocks=(2, 2, 2, 2), stage_filters=(64, 128, 256, 512),
                 bottleneck=False, small_input_stem=True, stem_filters=None, dropout_rate=0.0, stem_strides=1,
                 name="resnet", subsample_projection=False, block=None):
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
        subsample_projection: write strided projection shortcuts as subsampling + 1x1 convolution (identical
            function; avoids a oneDNN crash when training 2D ResNets on the CPU, see ``residual_block``).
        block: a function ``(x, filters, strides, name) -> tensor`` building one residual block, used instead
            of ``residual_block`` (``bottleneck`` and ``subsample_projection`` then do not apply).

    Returns:
        An uncompiled ``keras.Model`` with softmax outputs (N, num_classes).
    """
    inputs = keras.Input(input_shape, name="image")
    outputs = resnet_outputs(inputs, num_classes, stage_blocks, stage_filters, bottleneck, small_input_stem,
                             stem_filters, dropout_rate, stem_strides, subsample_projection, block)
    return keras.Model(inputs, outputs, name=name)


RESNET50_MIN_SIZE = 32
# ResNet50's stages as Keras names its layers: conv1_* (the 7x7 stem), conv2_* ... conv5_*.
RESNET50_STAGES = ("conv1", "conv2", "conv3", "conv4", "conv5")


def build_resnet50_transfer(input_shape, num_classes, weights="imagenet", trainable_stages=0, image_size=None,
                            dense_units=256, dropout_rate=0.5, name="resnet50_transfer"):
    """ImageNet ResNet50's convolutional base, built flat, with a global-average-pooling + dense head.

    Built by ``common.models.transfer.build_flat_transfer``, as VGG16's is: the base is ``ResNet50(include_top=False,
    weights=None, input_tensor=...)`` inside the classifier (not a nested model, so Grad-CAM reaches
    ``conv5_block3_out``), and pretrained weights are copied layer by layer from a separately built ResNet50.
    Grey images are repeated to three channels and ImageNet's "caffe" preprocessing (BGR, 0-255, mean
    subtracted; what ``keras.applications.resnet50.preprocess_input`` does) runs inside the model.

    Args:
        input_shape: (H, W, C) with C = 1 or 3, values in [0, 1].
        num_classes: softmax outputs.
        weights: "imagenet" (downloaded by Keras; needs internet the first time), a weights file, or None
            (random initialisation: then it is not transfer learning, and a report must say so).
        trainable_stages: 0 freezes the whole base (feature extraction; its batch norm stays in inference
            mode); 1 fine-tunes stage conv5, 2 stages conv4-conv5, up to 5 (everything).
        image_size: resize inputs to this size inside the model; ResNet50 needs at least 32 px.

    Returns:
        An uncompiled ``keras.Model`` with softmax outputs (N, num_classes).
    """
    if not 0 <= trainable_stages <= len(RESNET50_STAGES):
        raise ValueError(f"trainable_stages must be 0-{len(RESNET50_STAGES)}, got {trainable_stages}.")
    trainable = [f"{stage}_" for stage in RESNET50_STAGES[len(RESNET50_STAGES) - trainable_stages:]]
    return build_flat_transfer(keras.applications.ResNet50, input_shape, num_classes, weights=weights,
                               trainable_prefixes=trainable, min_size=RESNET50_MIN_SIZE, image_size=image_size,
                               dense_units=dense_units, dropout_rate=dropout_rate, name=name)
