"""Model builders for assignment 5. Pure functions: they build and return a model and read no files.

Both models take uint8-range images (N, size, size, channels) as float32 in [0, 255] and rescale inside the
model, so that a saved model carries its own preprocessing and ``predict`` cannot get it wrong.
"""

from common.tf_setup import import_tensorflow_quietly

import_tensorflow_quietly()
import keras  # noqa: E402
from keras import layers  # noqa: E402


def mri_augmentation(seed=None):
    """Training-time augmentation for MRI slices; inactive at inference."""
    return keras.Sequential(
        [
            layers.RandomRotation(0.03, fill_mode="constant", seed=seed),  # about +-10 degrees
            layers.RandomZoom(0.1, fill_mode="constant", seed=seed),
            layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed),
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomContrast(0.15, seed=seed),
        ],
        name="augmentation",
    )


def build_brain_tumor_cnn(input_shape=(128, 128, 1), num_classes=4, filters=(16, 32, 64, 128, 256),
                          dropout_rate=0.4, augment=True):
    """A CNN from scratch: per entry of ``filters``, two 3x3 conv + batch-norm + ReLU and a 2x2 max-pool;
    then global average pooling, dropout and a softmax layer.

    Returns:
        An uncompiled ``keras.Model`` mapping (N, H, W, C) floats in [0, 255] to (N, num_classes) probabilities.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = mri_augmentation()(inputs) if augment else inputs
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(x)
    # TODO: the CNN on x: per width in filters, twice a Conv2D(width, 3, padding="same", use_bias=False) named
    #       block<B>_conv<C>, BatchNormalization(momentum=0.9) and a ReLU Activation named block<B>_relu<C>
    #       (Grad-CAM explains the last one), then MaxPooling2D; then GlobalAveragePooling2D,
    #       Dropout(dropout_rate) and a softmax Dense of num_classes (dtype float32). Return
    #       keras.Model(inputs, outputs, name="brain_tumor_cnn").
    # BEGIN SOLUTION
    for block, width in enumerate(filters, start=1):
        for conv in (1, 2):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"block{block}_conv{conv}")(x)
            # Momentum 0.9 (not Keras's 0.99) lets the inference statistics keep up with the weights during
            # training; with 0.99 validation accuracy swung by tens of points from epoch to epoch.
            x = layers.BatchNormalization(momentum=0.9, name=f"block{block}_bn{conv}")(x)
            x = layers.Activation("relu", name=f"block{block}_relu{conv}")(x)
        x = layers.MaxPooling2D(name=f"block{block}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout_rate, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="brain_tumor_cnn")
    # END SOLUTION


def build_transfer_model(input_shape=(128, 128, 1), num_classes=4, weights="imagenet", dropout_rate=0.3,
                         augment=True):
    """EfficientNetB0 (keras.applications) with a new head, built flat so that Grad-CAM can reach its layers.

    Grey images are repeated to three channels; EfficientNet rescales [0, 255] inputs itself.

    Args:
        weights: "imagenet" (downloaded by Keras; needs internet) or None (random initialisation).

    Returns:
        An uncompiled ``keras.Model``; its backbone layers are trainable.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = mri_augmentation()(inputs) if augment else inputs
    if input_shape[-1] == 1:
        x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
    backbone = keras.applications.EfficientNetB0(include_top=False, weights=weights, input_tensor=x,
                                                 pooling="avg")
    features = layers.Dropout(dropout_rate, name="dropout")(backbone.output)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(features)
    return keras.Model(inputs, outputs, name="efficientnet_b0_transfer")


def cosine_learning_rate(peak, epochs, steps_per_epoch):
    """A cosine decay from ``peak`` to 1% of it over ``epochs`` epochs."""
    return keras.optimizers.schedules.CosineDecay(peak, decay_steps=max(1, epochs * steps_per_epoch), alpha=0.01)


def compile_classifier(model, learning_rate):
    """Adam (a float or a schedule as learning rate) + sparse categorical cross-entropy + accuracy."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model
