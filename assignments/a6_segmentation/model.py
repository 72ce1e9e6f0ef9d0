"""Assignment 6's models: U-Net and Attention U-Net from ``common.models.unet`` (the Attention U-Net with this
file's ``attention_gate``), compiled with Dice + cross-entropy. Pure functions: they build and return a model
and read no files."""

from common.models.layers import conv, spatial_rank
from common.models.unet import attention_layer_names, build_unet
from common.segmentation import DiceCrossEntropy
from common.tf_setup import import_tensorflow_quietly

import_tensorflow_quietly()
import keras  # noqa: E402
from keras import layers  # noqa: E402


def build_model(name, input_shape, num_classes, filters, dropout_rate):
    """"unet" or "attention_unet" for inputs ``input_shape`` ((H, W, 1) or (D, H, W, 1)), the same widths."""
    return build_unet(input_shape, num_classes, filters=filters, attention=name == "attention_unet",
                      dropout_rate=dropout_rate, name=name, gate=attention_gate)


def attention_gate(skip, gating, inter_channels, name):
    """The additive attention gate of Oktay et al. (MIDL 2018) on one skip connection, 2D or 3D:
    alpha = sigmoid(psi(ReLU(W_x skip + W_g gating))) and the gated skip connection skip * alpha. ``gating``
    (the upsampled decoder features) has the skip's spatial size; the map alpha (N, ..., 1) is the output of the
    layer ``name``, which the attention figure reads."""
    rank = spatial_rank(skip)
    convolution = layers.Conv2D if rank == 2 else layers.Conv3D
    # TODO: W_x: conv(rank, inter_channels, 1, name=<name>_skip) of skip (no bias); W_g: a 1x1 convolution
    #       (padding="same") of gating with inter_channels, named <name>_gating; their Add (<name>_add), a ReLU
    #       (<name>_relu); psi: a 1x1 convolution to one channel with a sigmoid, named <name> (the map alpha).
    #       Return the Multiply (<name>_gated) of skip and alpha.
    # BEGIN SOLUTION
    from_skip = conv(rank, inter_channels, 1, name=f"{name}_skip")(skip)
    from_gating = convolution(inter_channels, 1, padding="same", name=f"{name}_gating")(gating)
    joined = layers.ReLU(name=f"{name}_relu")(layers.Add(name=f"{name}_add")([from_skip, from_gating]))
    alpha = convolution(1, 1, padding="same", activation="sigmoid", name=name)(joined)
    return layers.Multiply(name=f"{name}_gated")([skip, alpha])
    # END SOLUTION


def compile_segmenter(model, learning_rate, dice_weight):
    """Adam, cross-entropy + ``dice_weight`` x soft Dice on one-hot masks, pixel accuracy as ``accuracy``."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=DiceCrossEntropy(dice_weight=dice_weight),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    return model


def attention_maps(model, filters, images):
    """The attention gates' maps for ``images`` (a batch the model takes): {layer name: (N, ..., 1)}."""
    names = [name for name in attention_layer_names(filters) if name in {layer.name for layer in model.layers}]
    probe = keras.Model(model.input, [model.get_layer(name).output for name in names])
    outputs = probe.predict(images, verbose=0)
    return dict(zip(names, outputs if isinstance(outputs, list) else [outputs]))
