"""Model builders and losses for assignment 4. Pure functions: they build and return a model and read no files.

Every model takes float32 inputs in [0, 1] (``common.datasets.medmnist.to_float_images``): images
(N, H, W, C) or volumes (N, D, H, W, 1). The output layer follows the task: softmax over the classes for
binary, multi-class and ordinal sets (a binary task gets two outputs, so one evaluator and one Grad-CAM serve
every model), one sigmoid per label for multi-label sets such as ChestMNIST.

- ``build_cnn3d``: problem 1, a 3D CNN from scratch (Conv3D + batch norm + max-pool stages, dense head).
- ``build_custom_cnn_for_task``: problem 2-A, ``common.models.custom_cnn`` with the task's output layer.
- ``build_vgg16_for_task``: problem 2-B, ``common.models.vgg.build_vgg16_transfer`` (ImageNet VGG16, flat).
- ``build_resnet_for_task``: problem 3, ``common.models.resnet.build_resnet`` with the small-input stem.
"""

from common.models.custom_cnn import build_custom_cnn
from common.models.layers import conv, conv_bn_relu, spatial_rank
from common.models.resnet import build_resnet, last_block_name
from common.models.vgg import build_vgg16_transfer
from common.tf_setup import import_tensorflow_quietly

import_tensorflow_quietly()
import keras  # noqa: E402
from keras import layers, ops  # noqa: E402

MULTI_LABEL = "multi-label"


def output_activation(task):
    """"sigmoid" for a multi-label task (labels are independent), "softmax" for every other task."""
    return "sigmoid" if task == MULTI_LABEL else "softmax"


def build_cnn3d(input_shape, num_classes=2, filters=(16, 32, 64), convs_per_stage=2, dense_units=128,
                dropout_rate=0.5, name="cnn3d"):
    """A 3D CNN from scratch for small volumes (28^3 or 64^3 voxels).

    Per entry of ``filters`` one stage: ``convs_per_stage`` times (3x3x3 convolution without bias -> batch norm
    -> ReLU), then a 2x2x2 max-pool. The head flattens the last feature maps, so that it keeps *where* in the
    volume a feature was found (MedMNIST 3D volumes are centred on the organ, and shape is the signal), then a
    dense ReLU layer, dropout and a softmax layer.

    Args:
        input_shape: (D, H, W, 1); D, H and W at least 2 ** len(filters).
        num_classes: softmax outputs (2 for a binary task).

    Returns:
        An uncompiled ``keras.Model`` mapping float32 (N, D, H, W, 1) to probabilities (N, num_classes).
    """
    if len(tuple(input_shape)) != 4:
        raise ValueError(f"build_cnn3d takes volumes of shape (D, H, W, C), got {input_shape}.")
    if not filters or min(filters) < 1 or convs_per_stage < 1:
        raise ValueError(f"filters must be positive integers and convs_per_stage at least 1; got {filters}, "
                         f"{convs_per_stage}.")
    if min(input_shape[:3]) < 2 ** len(filters):
        raise ValueError(f"{len(filters)} stages halve the volume {len(filters)} times, so every side must be at "
                         f"least {2 ** len(filters)}; got {input_shape}.")
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"dropout_rate must lie in [0, 1), got {dropout_rate}.")
    inputs = keras.Input(tuple(input_shape), name="volume")
    # TODO: the 3D CNN. Per stage (a width in filters), convs_per_stage times: Conv3D(width, 3, padding="same",
    #       use_bias=False) named stage<S>_conv<I>, BatchNormalization, ReLU named stage<S>_relu<I> (Grad-CAM
    #       explains the last one); then MaxPooling3D(2, padding="same"). The head: Flatten, a ReLU Dense layer
    #       of dense_units, Dropout(dropout_rate), a softmax Dense of num_classes (dtype float32). Return
    #       keras.Model(inputs, outputs, name=name).
    # BEGIN SOLUTION
    x = inputs
    for stage, width in enumerate(filters, start=1):
        for index in range(1, convs_per_stage + 1):
            x = layers.Conv3D(int(width), 3, padding="same", use_bias=False, name=f"stage{stage}_conv{index}")(x)
            x = layers.BatchNormalization(name=f"stage{stage}_bn{index}")(x)
            x = layers.ReLU(name=f"stage{stage}_relu{index}")(x)
        x = layers.MaxPooling3D(2, padding="same", name=f"stage{stage}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(int(dense_units), activation="relu", name="dense")(x)
    x = layers.Dropout(dropout_rate, name="dropout")(x)
    outputs = layers.Dense(int(num_classes), activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)
    # END SOLUTION


def cnn3d_gradcam_layer(filters, convs_per_stage):
    """The last convolution's name: Grad-CAM's layer for ``build_cnn3d``."""
    return f"stage{len(filters)}_conv{convs_per_stage}"


def custom_cnn_kwargs(input_shape, num_classes, task, filters, dense_units, dropout_rate):
    """The JSON-ready keyword arguments of ``common.models.custom_cnn.build_custom_cnn`` for this task; the
    quantization-aware training child rebuilds the same network from them."""
    return {"input_shape": [int(size) for size in input_shape], "num_classes": int(num_classes),
            "filters": [int(width) for width in filters], "dense_units": int(dense_units),
            "dropout_rate": float(dropout_rate), "output_activation": output_activation(task)}


def build_custom_cnn_for_task(input_shape, num_classes, task, filters=(32, 64, 128), dense_units=256,
                              dropout_rate=0.4):
    """Problem 2-A's deeper custom CNN (``common.models.custom_cnn``) with the task's output layer."""
    return build_custom_cnn(**custom_cnn_kwargs(input_shape, num_classes, task, filters, dense_units, dropout_rate))


def _with_sigmoid_outputs(model):
    """The same network with its softmax classifier replaced by a sigmoid one of the same width."""
    classifier = model.layers[-1]
    outputs = layers.Dense(classifier.units, activation="sigmoid", dtype="float32", name=classifier.name)(
        classifier.input)
    return keras.Model(model.input, outputs, name=model.name)


def build_vgg16_for_task(input_shape, num_classes, task, weights="imagenet", trainable_blocks=0, image_size=64,
                         dense_units=256, dropout_rate=0.5, name="vgg16_transfer"):
    """Problem 2-B: ImageNet VGG16 (flat, so Grad-CAM reaches ``block5_conv3``), inputs upsampled to
    ``image_size`` inside the model, global average pooling and a dense head; see
    ``common.models.vgg.build_vgg16_transfer`` for ``weights`` and ``trainable_blocks``."""
    model = build_vgg16_transfer(input_shape, num_classes, weights=weights, trainable_blocks=trainable_blocks,
                                 image_size=image_size, dense_units=dense_units, dropout_rate=dropout_rate,
                                 name=name)
    return _with_sigmoid_outputs(model) if task == MULTI_LABEL else model


def residual_block(x, filters, strides=1, name="block"):
    """The basic residual block of ResNet-18 (He et al., CVPR 2016), for images or volumes: out = ReLU(shortcut +
    BN(conv3x3(ReLU(BN(conv3x3(x)))))), where the shortcut is x itself, or a 1x1 convolution with ``strides``
    and batch norm where the width or the resolution changes. The output layer is named ``<name>_out``."""
    rank = spatial_rank(x)
    # TODO: the block, with common.models.layers' conv(rank, filters, kernel, strides, name=...) and
    #       conv_bn_relu(x, filters, kernel, strides, name=...). Shortcut: x, or (when strides != 1 or x has
    #       another number of channels than filters) a 1x1 conv with strides named <name>_proj_conv and a
    #       BatchNormalization named <name>_proj_bn. Residual branch: conv_bn_relu 3x3 with strides named <name>_1,
    #       a 3x3 conv named <name>_2_conv, a BatchNormalization(gamma_initializer="zeros") named <name>_last_bn
    #       (each block starts as the identity). Return ReLU named <name>_out of the Add of the two.
    # BEGIN SOLUTION
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = conv(rank, filters, 1, strides, name=f"{name}_proj_conv")(shortcut)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = conv_bn_relu(x, filters, 3, strides, name=f"{name}_1")
    y = conv(rank, filters, 3, name=f"{name}_2_conv")(y)
    y = layers.BatchNormalization(gamma_initializer="zeros", name=f"{name}_last_bn")(y)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([shortcut, y]))
    # END SOLUTION


def build_resnet_for_task(input_shape, num_classes, task, stage_blocks=(2, 2, 2), stage_filters=(32, 64, 128),
                          dropout_rate=0.3, name="resnet"):
    """Problem 3: a ResNet from scratch (``residual_block``, the basic block) with the small-input stem (3x3,
    stride 1, no max-pool), so a 28-px image keeps its resolution into the first stage; global average pooling,
    dropout, classifier."""
    model = build_resnet(input_shape, num_classes, stage_blocks=stage_blocks, stage_filters=stage_filters,
                         small_input_stem=True, dropout_rate=dropout_rate, name=name, block=residual_block)
    return _with_sigmoid_outputs(model) if task == MULTI_LABEL else model


def resnet_gradcam_layer(stage_blocks):
    return last_block_name(stage_blocks)


@keras.saving.register_keras_serializable(package="medmnist_assignment")
class WeightedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy per label with a weight on each label's positive term, averaged over labels.

    loss = mean_k -(w_k * y_k * log p_k + (1 - y_k) * log(1 - p_k)). With w_k = negatives / positives of
    label k on the training split, a rare finding counts as much as a common one: Keras's ``class_weight``
    weights whole samples by one class and cannot do this for multi-label outputs.
    """

    def __init__(self, positive_weights, name="weighted_binary_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.positive_weights = [float(weight) for weight in positive_weights]

    def call(self, y_true, y_pred):
        y_pred = ops.clip(ops.cast(y_pred, "float32"), 1e-7, 1.0 - 1e-7)
        y_true = ops.cast(y_true, "float32")
        weights = ops.convert_to_tensor(self.positive_weights, dtype="float32")
        per_label = -(weights * y_true * ops.log(y_pred) + (1.0 - y_true) * ops.log(1.0 - y_pred))
        return ops.mean(per_label, axis=-1)

    def get_config(self):
        return {**super().get_config(), "positive_weights": self.positive_weights}


def positive_weights_from_labels(labels):
    """Per-label weights negatives / positives from multi-label training labels (N, L) of 0/1; a label with no
    positive example gets weight 1."""
    import numpy as np

    labels = np.asarray(labels)
    positives = labels.sum(axis=0).astype(np.float64)
    negatives = len(labels) - positives
    return np.where(positives > 0, negatives / np.maximum(positives, 1.0), 1.0).tolist()


def compile_for_task(model, task, learning_rate, positive_weights=None):
    """Adam + the task's loss, with an accuracy metric named ``accuracy``.

    Labels are one-hot (N, C) for single-label tasks and 0/1 rows (N, L) for multi-label ones. The validation
    AUC is not a Keras metric: the trainer logs the evaluator's exact AUC every epoch (``ValidationAUC``), the
    MedMNIST definition for every task and the number the tables report.
    """
    if task == MULTI_LABEL:
        loss = (WeightedBinaryCrossentropy(positive_weights) if positive_weights is not None
                else keras.losses.BinaryCrossentropy())
        accuracy = keras.metrics.BinaryAccuracy(name="accuracy")
    else:
        loss = keras.losses.CategoricalCrossentropy()
        accuracy = keras.metrics.CategoricalAccuracy(name="accuracy")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=[accuracy])
    return model
