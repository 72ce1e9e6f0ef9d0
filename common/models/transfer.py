"""ImageNet backbones built *flat* into a classifier, the one recipe behind ``build_vgg16_transfer`` and
``build_resnet50_transfer``.

A backbone nested as a model inside the classifier breaks Grad-CAM in Keras 3 (its inner layers are "not
connected to the inputs"). Here the backbone is ``Application(include_top=False, weights=None,
input_tensor=x)`` applied to the classifier's own tensors, so its layers sit in the classifier's graph under
their Keras names; pretrained weights are loaded into a separately built plain backbone and copied layer by
layer. Inputs in [0, 1] are upsampled (if asked) and given ImageNet's "caffe" preprocessing inside the model,
so a saved model needs no outside code.
"""

import dataclasses

import numpy as np

from common.models.layers import classifier_head
from common.tf_setup import import_tensorflow_quietly

import_tensorflow_quietly()
import keras  # noqa: E402
from keras import layers  # noqa: E402

# What --<model>-weights accepts: the ImageNet weights (the rows are skipped when they cannot be had), or random
# initialisation, for anyone who wants the comparison with one more network trained from scratch.
WEIGHT_CHOICES = ("imagenet", "random")


@dataclasses.dataclass(frozen=True)
class TransferWeights:
    """How a run trains its transfer-learning rows, decided once per run by ``choose_transfer_weights``."""

    weights: str | None  # for the builders: "imagenet", or None for random initialisation
    train: bool  # False: the rows are skipped, and the report says why in ``note``
    note: str  # one line for the report and metrics.json


def choose_transfer_weights(setting, probe, flag):
    """Decide whether and how transfer rows are trained.

    Args:
        setting: "imagenet" or "random" (the value of ``flag``).
        probe: a function that builds the transfer model with ``weights="imagenet"``; Keras downloads the weights
            on first use, so this fails without internet (or a cached copy).
        flag: the command-line flag, for the note (e.g. "--vgg-weights").

    Returns:
        A ``TransferWeights``. Without the ImageNet weights the rows are skipped: trained from random weights
        they would take most of a run's time and say nothing about transfer learning.
    """
    if setting not in WEIGHT_CHOICES:
        raise ValueError(f"{flag} must be one of {', '.join(WEIGHT_CHOICES)}, not {setting!r}.")
    if setting == "random":
        return TransferWeights(None, True, f"random initialisation ({flag} random): these rows are NOT transfer "
                                           "learning, only more networks trained from scratch")
    try:
        probe()
    except Exception as error:  # noqa: BLE001 (Keras raises a plain Exception for a failed download)
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        return TransferWeights(None, False, f"skipped: the ImageNet weights could not be downloaded ({reason}); "
                                            f"pass {flag} random to train these rows from random weights for "
                                            "comparison (they are then not transfer learning)")
    return TransferWeights("imagenet", True, "ImageNet weights (keras.applications)")


# The mean of ImageNet's training images in BGR order, which the "caffe" preprocessing subtracts.
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)


def imagenet_caffe_preprocessing(x, name="imagenet_preprocessing"):
    """Map images in [0, 1] with 1 (grey) or 3 (RGB) channels to VGG16's / ResNet50's input: BGR, 0-255, ImageNet
    mean subtracted. A fixed 1x1 convolution does it inside the model, so a saved model needs no outside code."""
    channels = x.shape[-1]
    if channels not in (1, 3):
        raise ValueError(f"ImageNet models take grey or RGB images; got {channels} channels.")
    kernel = np.zeros((1, 1, channels, 3), dtype=np.float32)
    for output_channel in range(3):  # BGR output from RGB input; a grey channel feeds all three
        kernel[0, 0, 0 if channels == 1 else 2 - output_channel, output_channel] = 255.0
    layer = layers.Conv2D(3, 1, trainable=False, name=name,
                          kernel_initializer=keras.initializers.Constant(kernel),
                          bias_initializer=keras.initializers.Constant(-np.array(IMAGENET_BGR_MEAN, np.float32)))
    return layer(x)


def copy_weights_by_name(source, target):
    """Give every layer of ``target`` the weights of the layer of ``source`` with the same name (layers of
    ``source`` without weights are skipped; a name missing from ``target`` raises ``ValueError``)."""
    for layer in source.layers:
        if layer.weights:
            target.get_layer(layer.name).set_weights(layer.get_weights())


def build_flat_transfer(application, input_shape, num_classes, *, weights, trainable_prefixes, min_size,
                        image_size=None, dense_units=256, dropout_rate=0.5, name="transfer"):
    """A classifier around ``application``'s convolutional base, built flat, with a global-average-pooling +
    dense head.

    Args:
        application: a ``keras.applications`` constructor such as ``keras.applications.VGG16``.
        input_shape: (H, W, C) with C = 1 or 3, values in [0, 1].
        num_classes: softmax outputs.
        weights: "imagenet" (downloaded by Keras, needs internet the first time), a weights file, or None for
            random initialisation (then it is not transfer learning, and a report must say so).
        trainable_prefixes: base layers whose names start with one of these train; the rest are frozen
            (an empty tuple freezes the whole base; its batch norm, if any, stays in inference mode).
        min_size: the smallest input side the base accepts; ``image_size`` upsamples smaller images to it.

    Returns:
        An uncompiled ``keras.Model`` with softmax outputs (N, num_classes).
    """
    size = image_size or min(input_shape[:2])
    if size < min_size:
        raise ValueError(f"{application.__name__} needs images of at least {min_size} px; set image_size (e.g. 64) "
                         f"to upsample the {input_shape[0]}-px inputs inside the model.")
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    if image_size and tuple(input_shape[:2]) != (image_size, image_size):
        x = layers.Resizing(image_size, image_size, interpolation="bilinear", name="upsample")(x)
    x = imagenet_caffe_preprocessing(x)
    base = application(include_top=False, weights=None, input_tensor=x)
    if weights is not None:
        # Loading the weight file straight into a base that shares its graph with the preprocessing layers
        # would misalign it; a plain base takes the file, and its weights are copied by layer name.
        copy_weights_by_name(application(include_top=False, weights=weights, input_shape=(size, size, 3)), base)
    trainable_prefixes = tuple(trainable_prefixes)
    for layer in base.layers:
        layer.trainable = bool(trainable_prefixes) and layer.name.startswith(trainable_prefixes)
    x = layers.GlobalAveragePooling2D(name="pool")(base.output)
    outputs = classifier_head(x, num_classes, dense_units=dense_units, dropout_rate=dropout_rate)
    return keras.Model(inputs, outputs, name=name)
