"""Model builders of assignment 7. Pure functions: they build and return a model and read no files.

Both models take grey chest X-rays (N, S, S, 1) as float32 in [0, 1] and end in one sigmoid, the probability of
pneumonia; a saved model carries its own augmentation (active in training only), upsampling and normalisation.

- ``build_chexnet``: CheXNet (Rajpurkar et al. 2017), DenseNet-121 from ``keras.applications`` built flat (so that
  CAM and Grad-CAM reach its last feature maps), global average pooling, one sigmoid.
- ``build_compact_densenet``: the baseline, a small DenseNet-BC made of the student's ``dense_block``.
- ``WeightedBinaryCrossentropy``: CheXNet's loss, weighted by the class shares of the training labels.
"""

from common.models.transfer import copy_weights_by_name
from common.tf_setup import import_tensorflow_quietly

import_tensorflow_quietly()
import keras  # noqa: E402
from keras import layers, ops  # noqa: E402

# ImageNet's per-channel mean and standard deviation, the input normalisation DenseNet-121's weights expect.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The layer whose maps CAM and Grad-CAM explain: DenseNet-121's last batch-norm + ReLU ("relu" in Keras), and the
# baseline's own, named the same.
FEATURE_LAYER = "relu"
# The sigmoid layer; CAM takes its weights.
OUTPUT_LAYER = "pneumonia"


def chest_xray_augmentation(shift=0.1, contrast=0.0, seed=None):
    """Training-time augmentation, inactive at inference: CheXNet's random horizontal flip, and (``shift`` > 0)
    small shifts, rotations (up to ~10 degrees) and zooms (``shift``, a share of the side), as children are
    positioned differently in the frame, and (``contrast`` > 0) contrast and brightness changes of up to
    ``contrast`` (a share), as exposure differs between machines and visits."""
    steps = [layers.RandomFlip("horizontal", seed=seed)]
    if shift > 0:
        steps += [layers.RandomTranslation(shift, shift, fill_mode="constant", seed=seed),
                  layers.RandomRotation(0.03, fill_mode="constant", seed=seed),
                  layers.RandomZoom(shift, fill_mode="constant", seed=seed)]
    if contrast > 0:
        steps += [layers.RandomContrast(contrast, value_range=(0.0, 1.0), seed=seed),
                  layers.RandomBrightness(contrast / 2, value_range=(0.0, 1.0), seed=seed)]
    return keras.Sequential(steps, name="augmentation")


def dense_block(x, num_layers, growth_rate, name):
    """A dense block of DenseNet-BC (Huang et al., CVPR 2017): ``num_layers`` layers, each seeing the
    concatenation of the block's input and every earlier layer's output, and adding ``growth_rate`` channels.

    Returns:
        The block's output: ``x``'s channels plus ``num_layers * growth_rate``, same spatial size.
    """
    # TODO: num_layers times (layer i = 1, 2, ...): BatchNormalization(epsilon=1.001e-5) named f"{name}_block{i}_0_bn",
    #       ReLU named f"{name}_block{i}_0_relu", a 1x1 Conv2D of 4 * growth_rate filters (use_bias=False) named
    #       f"{name}_block{i}_1_conv" (the bottleneck), BatchNormalization(epsilon=1.001e-5) f"{name}_block{i}_1_bn",
    #       ReLU f"{name}_block{i}_1_relu", a 3x3 Conv2D of growth_rate filters (padding="same", use_bias=False)
    #       f"{name}_block{i}_2_conv"; then x = Concatenate(name=f"{name}_block{i}_concat")([x, new]). Return x.
    #       (The names are keras.applications.DenseNet121's.)
    # BEGIN SOLUTION
    for i in range(1, num_layers + 1):
        prefix = f"{name}_block{i}"
        y = layers.BatchNormalization(epsilon=1.001e-5, name=f"{prefix}_0_bn")(x)
        y = layers.ReLU(name=f"{prefix}_0_relu")(y)
        y = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{prefix}_1_conv")(y)
        y = layers.BatchNormalization(epsilon=1.001e-5, name=f"{prefix}_1_bn")(y)
        y = layers.ReLU(name=f"{prefix}_1_relu")(y)
        y = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{prefix}_2_conv")(y)
        x = layers.Concatenate(name=f"{prefix}_concat")([x, y])
    return x
    # END SOLUTION


def transition_block(x, reduction, name):
    """DenseNet's transition between dense blocks: batch norm, ReLU, a 1x1 convolution keeping ``reduction`` of
    the channels, and 2x2 average pooling."""
    x = layers.BatchNormalization(epsilon=1.001e-5, name=f"{name}_bn")(x)
    x = layers.ReLU(name=f"{name}_relu")(x)
    x = layers.Conv2D(int(x.shape[-1] * reduction), 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, name=f"{name}_pool")(x)


def _sigmoid_head(features, dropout_rate):
    """Global average pooling, dropout and one float32 sigmoid: the probability of pneumonia."""
    x = layers.GlobalAveragePooling2D(name="pool")(features)
    if dropout_rate:
        x = layers.Dropout(dropout_rate, name="dropout")(x)
    return layers.Dense(1, activation="sigmoid", dtype="float32", name=OUTPUT_LAYER)(x)


def build_compact_densenet(input_shape=(28, 28, 1), blocks=(3, 6, 4), growth_rate=12, stem_filters=24,
                           reduction=0.5, dropout_rate=0.0, augment=True, shift=0.1,
                           contrast=0.0):
    """The baseline: a DenseNet-BC for small images at their own size. A 3x3 stem convolution, one
    ``dense_block`` per entry of ``blocks`` with a ``transition_block`` between them, batch norm + ReLU
    (``FEATURE_LAYER``), and CheXNet's head.

    Returns:
        An uncompiled ``keras.Model`` from (N, H, W, 1) in [0, 1] to (N, 1) probabilities of pneumonia.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = chest_xray_augmentation(shift, contrast)(inputs) if augment else inputs
    x = layers.Conv2D(stem_filters, 3, padding="same", use_bias=False, name="conv1_conv")(x)
    for number, count in enumerate(blocks, start=1):
        x = dense_block(x, count, growth_rate, name=f"conv{number + 1}")
        if number < len(blocks):
            x = transition_block(x, reduction, name=f"pool{number + 1}")
    x = layers.BatchNormalization(epsilon=1.001e-5, name="bn")(x)
    x = layers.ReLU(name=FEATURE_LAYER)(x)
    return keras.Model(inputs, _sigmoid_head(x, dropout_rate), name="compact_densenet")


def build_chexnet(input_shape=(28, 28, 1), input_size=64, weights=None, dropout_rate=0.0, augment=True, shift=0.1,
                  contrast=0.0):
    """CheXNet: DenseNet-121 (``keras.applications``, built flat) on images upsampled to ``input_size``, grey
    repeated to three channels and normalised with ImageNet's mean and standard deviation.

    Args:
        input_size: the side DenseNet-121 sees. Its five halvings leave ``input_size / 32`` cells per side for
            the heat maps: 64 px gives 2 x 2, 224 px (the paper's) 7 x 7.
        weights: "imagenet" (downloaded by Keras; needs internet) or None (random initialisation).

    Returns:
        An uncompiled ``keras.Model`` from (N, H, W, 1) in [0, 1] to (N, 1) probabilities of pneumonia.
    """
    if input_size < 32:
        raise ValueError(f"DenseNet-121 needs inputs of at least 32 px, not {input_size}.")
    inputs = keras.Input(shape=input_shape, name="image")
    x = chest_xray_augmentation(shift, contrast)(inputs) if augment else inputs
    if tuple(input_shape[:2]) != (input_size, input_size):
        x = layers.Resizing(input_size, input_size, interpolation="bilinear", name="upsample")(x)
    if input_shape[-1] == 1:
        x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
    x = layers.Normalization(mean=IMAGENET_MEAN, variance=[s * s for s in IMAGENET_STD], name="imagenet_norm")(x)
    base = keras.applications.DenseNet121(include_top=False, weights=None, input_tensor=x)
    if weights is not None:
        copy_weights_by_name(keras.applications.DenseNet121(include_top=False, weights=weights,
                                                            input_shape=(input_size, input_size, 3)), base)
    return keras.Model(inputs, _sigmoid_head(base.output, dropout_rate), name="chexnet_densenet121")


def chexnet_loss_weights(labels):
    """CheXNet's class weights from the training labels (0/1): w+ = |N| / (|P| + |N|) for positives and
    w- = |P| / (|P| + |N|) for negatives, so that each class adds the same total weight to the loss."""
    import numpy as np

    labels = np.asarray(labels).reshape(-1)
    positive_share = float(labels.mean()) if labels.size else 0.5
    return 1.0 - positive_share, positive_share


def weighted_binary_crossentropy(y_true, y_pred, positive_weight, negative_weight, epsilon=1e-7):
    """CheXNet's loss per example: y_true (N, 1) of 0/1, y_pred (N, 1) probabilities; returns (N,)."""
    # TODO: cast y_true to y_pred's dtype, clip y_pred to [epsilon, 1 - epsilon] (log(0) is -inf), and return
    #       -(positive_weight * y * log(p) + negative_weight * (1 - y) * log(1 - p)), averaged over the last
    #       axis (keras.ops: ops.cast, ops.clip, ops.log, ops.mean(..., axis=-1)).
    # BEGIN SOLUTION
    y_true = ops.cast(y_true, y_pred.dtype)
    p = ops.clip(y_pred, epsilon, 1.0 - epsilon)
    terms = positive_weight * y_true * ops.log(p) + negative_weight * (1.0 - y_true) * ops.log(1.0 - p)
    return -ops.mean(terms, axis=-1)
    # END SOLUTION


@keras.saving.register_keras_serializable(package="a7_chexnet")
class WeightedBinaryCrossentropy(keras.losses.Loss):
    """CheXNet's weighted binary cross-entropy, -(w+ y log p + w- (1 - y) log(1 - p)), averaged over the batch."""

    def __init__(self, positive_weight, negative_weight, epsilon=1e-7, name="weighted_binary_crossentropy",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.positive_weight, self.negative_weight, self.epsilon = float(positive_weight), float(negative_weight), \
            float(epsilon)

    def call(self, y_true, y_pred):
        """The loss per example: y_true (N, 1) of 0/1, y_pred (N, 1) probabilities; returns (N,)."""
        return weighted_binary_crossentropy(y_true, y_pred, self.positive_weight, self.negative_weight, self.epsilon)

    def get_config(self):
        return {**super().get_config(), "positive_weight": self.positive_weight,
                "negative_weight": self.negative_weight, "epsilon": self.epsilon}


def compile_chexnet(model, learning_rate, positive_weight, negative_weight):
    """Adam (CheXNet's beta 0.9 / 0.999) and the weighted loss."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.9, beta_2=0.999),
                  loss=WeightedBinaryCrossentropy(positive_weight, negative_weight))
    return model
