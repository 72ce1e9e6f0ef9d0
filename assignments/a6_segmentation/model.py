"""Assignment 6's models: U-Net and Attention U-Net from ``common.models.unet``, compiled with Dice +
cross-entropy. Pure functions: they build and return a model and read no files."""

from common.models.unet import attention_layer_names, build_unet
from common.segmentation import DiceCrossEntropy
from common.tf_setup import import_tensorflow_quietly

import_tensorflow_quietly()
import keras  # noqa: E402


def build_model(name, input_shape, num_classes, filters, dropout_rate):
    """"unet" or "attention_unet" for inputs ``input_shape`` ((H, W, 1) or (D, H, W, 1)), the same widths."""
    return build_unet(input_shape, num_classes, filters=filters, attention=name == "attention_unet",
                      dropout_rate=dropout_rate, name=name)


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
