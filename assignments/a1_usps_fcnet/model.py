"""Model builders for assignment 1. Pure functions: they build and return a model and read no files."""

from common.tf_setup import import_tensorflow_quietly

import_tensorflow_quietly()
import keras  # noqa: E402
from keras import layers  # noqa: E402


def augmentation_layers(max_shift_pixels=1, max_rotation_degrees=11.0, image_side=16, seed=None):
    """Training-time augmentation: small random shifts and rotations. Inactive at inference.

    ``seed`` fixes the layers' own random draws (the report's augmentation figure); None follows the global
    seed, as in training."""
    shift = max_shift_pixels / image_side
    return keras.Sequential(
        [
            layers.RandomTranslation(shift, shift, fill_mode="constant", fill_value=0.0, seed=seed),
            layers.RandomRotation(max_rotation_degrees / 360.0, fill_mode="constant", fill_value=0.0,
                                  seed=None if seed is None else seed + 1),
        ],
        name="augmentation",
    )


def build_fc_net(input_shape=(16, 16, 1), num_classes=10, hidden_units=(512, 256), dropout_rate=0.3,
                 augment=True):
    """A fully-connected network with two hidden ReLU layers and dropout.

    Args:
        input_shape: image shape (H, W, C); images are flattened to H*W*C features.
        num_classes: size of the softmax output.
        hidden_units: widths of the two hidden layers.
        dropout_rate: dropout after each hidden layer.
        augment: prepend random shifts / rotations (active only in training).

    Returns:
        An uncompiled ``keras.Model`` mapping (N, H, W, C) floats in [0, 1] to (N, num_classes) probabilities.
    """
    if len(hidden_units) != 2:
        raise ValueError(f"The assignment's network has two hidden layers; got widths {hidden_units}.")
    inputs = keras.Input(shape=input_shape, name="image")
    x = augmentation_layers(image_side=input_shape[0])(inputs) if augment else inputs
    # TODO: the fully-connected network on x: a Flatten layer, then for each width in hidden_units a Dense layer
    #       with ReLU (named hidden_1, hidden_2) followed by Dropout(dropout_rate), then a softmax Dense layer
    #       with num_classes units (dtype float32); return keras.Model(inputs, outputs, name="fc_net").
    # BEGIN SOLUTION
    x = layers.Flatten(name="flatten")(x)
    for index, units in enumerate(hidden_units, start=1):
        x = layers.Dense(units, activation="relu", name=f"hidden_{index}")(x)
        x = layers.Dropout(dropout_rate, name=f"dropout_{index}")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="fc_net")
    # END SOLUTION


def build_small_cnn(input_shape=(16, 16, 1), num_classes=10, filters=(32, 64), dropout_rate=0.4,
                    dense_units=128, augment=True):
    """A small CNN: per entry of ``filters``, two 3x3 conv + batch-norm + ReLU layers and a 2x2 max-pool.

    Returns:
        An uncompiled ``keras.Model`` mapping (N, H, W, C) floats in [0, 1] to (N, num_classes) probabilities.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = augmentation_layers(image_side=input_shape[0])(inputs) if augment else inputs
    for block, width in enumerate(filters, start=1):
        for conv in (1, 2):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"block{block}_conv{conv}")(x)
            x = layers.BatchNormalization(name=f"block{block}_bn{conv}")(x)
            x = layers.Activation("relu", name=f"block{block}_relu{conv}")(x)
        x = layers.MaxPooling2D(name=f"block{block}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout_rate, name="dropout_1")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    x = layers.Dropout(dropout_rate, name="dropout_2")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def compile_classifier(model, learning_rate):
    """Adam + sparse categorical cross-entropy + accuracy; returns the model."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model
