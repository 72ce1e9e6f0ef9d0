"""U-Net (Ronneberger et al., MICCAI 2015) and Attention U-Net (Oktay et al., MIDL 2018), 2D or 3D from the
input shape.

Both are the same encoder-decoder: per level two 3x3 convolutions with batch norm and ReLU, then a 2x2 max-pool
going down; going up, a 2x2 transposed convolution, the encoder's feature maps of that level concatenated
(the skip connection) and two 3x3 convolutions again; a 1x1 convolution with softmax gives the class scores of
every pixel. The Attention U-Net passes every skip connection through an additive attention gate first: the
decoder's coarser features decide, pixel by pixel, how much of the encoder's features go through (a map in
[0, 1], the layer ``attention_<level>``), which helps with small structures. With the same ``filters`` the two
differ only by the gates, so a comparison is fair.

Convolutions use "same" padding (the paper used valid ones and overlap-tiles large inputs; here
``common.segmentation.predict_tiled`` tiles with mirrored borders instead), so the output has the input's size;
every spatial size must be divisible by 2 ** (len(filters) - 1).
"""

from common.models.layers import conv, conv_bn_relu, max_pool, spatial_rank
from common.tf_setup import import_tensorflow_quietly

import_tensorflow_quietly()
import keras  # noqa: E402
from keras import layers  # noqa: E402


def _double_conv(x, filters, name):
    x = conv_bn_relu(x, filters, 3, name=f"{name}_a")
    return conv_bn_relu(x, filters, 3, name=f"{name}_b")


def _upsample(x, filters, name):
    rank = spatial_rank(x)
    layer = layers.Conv2DTranspose if rank == 2 else layers.Conv3DTranspose
    return layer(filters, 2, strides=2, padding="same", name=name)(x)


def attention_gate(skip, gating, inter_channels, name):
    """The additive attention gate of Oktay et al.: alpha = sigmoid(psi(ReLU(W_x skip + W_g gating))), and the
    gated skip connection skip * alpha. ``gating`` has the skip's spatial size (the upsampled decoder features);
    the map alpha (N, ..., 1) is the output of the layer ``<name>``."""
    rank = spatial_rank(skip)
    from_skip = conv(rank, inter_channels, 1, name=f"{name}_skip")(skip)
    from_gating = layers.Conv2D if rank == 2 else layers.Conv3D
    from_gating = from_gating(inter_channels, 1, padding="same", name=f"{name}_gating")(gating)
    joined = layers.ReLU(name=f"{name}_relu")(layers.Add(name=f"{name}_add")([from_skip, from_gating]))
    psi = layers.Conv2D if rank == 2 else layers.Conv3D
    alpha = psi(1, 1, padding="same", activation="sigmoid", name=name)(joined)
    return layers.Multiply(name=f"{name}_gated")([skip, alpha])


def unet_outputs(x, num_classes, filters=(16, 32, 64, 128), attention=False, dropout_rate=0.0, gate=None):
    """Apply a (attention) U-Net to tensor ``x`` (N, H, W, C) or (N, D, H, W, C); returns the softmax scores
    (N, H, W, num_classes) or (N, D, H, W, num_classes). ``gate``: see ``build_unet``."""
    rank = spatial_rank(x)
    gate = gate or attention_gate
    skips = []
    for level, width in enumerate(filters[:-1], start=1):
        x = _double_conv(x, width, name=f"down{level}")
        skips.append(x)
        x = max_pool(rank, 2, name=f"down{level}_pool")(x)
    x = _double_conv(x, filters[-1], name="bottom")
    if dropout_rate:
        x = layers.Dropout(dropout_rate, name="bottom_dropout")(x)
    for level in range(len(filters) - 1, 0, -1):
        width = filters[level - 1]
        x = _upsample(x, width, name=f"up{level}_transpose")
        skip = skips[level - 1]
        if attention:
            skip = gate(skip, x, max(1, width // 2), name=f"attention_{level}")
        x = layers.Concatenate(name=f"up{level}_concat")([skip, x])
        x = _double_conv(x, width, name=f"up{level}")
    scores = layers.Conv2D if rank == 2 else layers.Conv3D
    return scores(num_classes, 1, activation="softmax", dtype="float32", name="scores")(x)


def build_unet(input_shape, num_classes, filters=(16, 32, 64, 128), attention=False, dropout_rate=0.0, name=None,
               gate=None):
    """A U-Net (``attention=True``: Attention U-Net) for images (H, W, C) or volumes (D, H, W, C).

    Args:
        input_shape: (H, W, C) or (D, H, W, C); None for a spatial size takes any size divisible by
            2 ** (len(filters) - 1).
        num_classes: softmax channels (2 for a binary mask).
        filters: the widths of the levels, the last one the bottom of the "U".
        attention: gate every skip connection (``attention_gate``).
        dropout_rate: dropout at the bottom of the "U".
        gate: with ``attention``, the gate to use instead of ``attention_gate``: a function (skip, gating,
            inter_channels, name) -> the gated skip, whose map is the output of the layer ``name``.

    Returns:
        An uncompiled ``keras.Model`` from inputs (N, ..., C) to softmax scores (N, ..., num_classes).
    """
    if len(filters) < 2:
        raise ValueError(f"a U-Net needs at least two levels of filters, got {filters}.")
    depth = 2 ** (len(filters) - 1)
    spatial = tuple(input_shape)[:-1]
    odd = [size for size in spatial if size is not None and size % depth]
    if odd:
        raise ValueError(f"every spatial size must be divisible by {depth} ({len(filters) - 1} poolings); got "
                         f"{tuple(input_shape)}.")
    inputs = keras.Input(tuple(input_shape), name="image")
    outputs = unet_outputs(inputs, num_classes, filters, attention, dropout_rate, gate)
    return keras.Model(inputs, outputs, name=name or ("attention_unet" if attention else "unet"))


def attention_layer_names(filters):
    """The names of an Attention U-Net's gate maps, finest level first."""
    return [f"attention_{level}" for level in range(1, len(filters))]
