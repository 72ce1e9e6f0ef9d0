"""The four ways of classifying a volume compared in assignment 3: pure builder functions.

Every builder takes the same input, a preprocessed volume of shape (D, H, W, 1) (D axial slices), so one
data pipeline, one augmentation and one evaluation serve all four, and a saved model needs nothing but the
volume:

1. ``build_single_slice_model``: a 2D network sees one axial slice, cut out inside the model.
2. ``build_late_fusion_model``: one 2D network, shared by every slice, turns each slice
   into a feature vector; the vectors are pooled over the slices (mean and max), then classified.
3. ``build_early_fusion_model``: the slices become the channels of a 2D image, fused by the first convolution.
4. ``build_resnet3d``: a 3D ResNet with bottleneck blocks (ResNet-50's block, fewer and narrower stages).
"""

from common.models.layers import classifier_head
from common.models.resnet import last_block_name, resnet_outputs
from common.models.vgg import compact_vgg_outputs
from common.tf_setup import import_tensorflow_quietly

import_tensorflow_quietly()
import keras  # noqa: E402
from keras import layers  # noqa: E402


def gradcam_layer_name(approach, resnet_blocks):
    """The feature maps Grad-CAM explains for each approach (None: the last convolutional layer)."""
    if approach == "late_fusion":
        return "late_block_last"  # per-slice maps (D, h, w, F), explained as one 3D map
    if approach == "resnet3d":
        return last_block_name(resnet_blocks)  # the sum of the skip and the residual branch
    return None


def _volume_input(volume_shape):
    if len(volume_shape) != 4 or volume_shape[-1] != 1:
        raise ValueError(f"volume_shape must be (depth, height, width, 1), got {volume_shape}.")
    return keras.Input(volume_shape, name="volume")


def build_single_slice_model(volume_shape, num_classes, slice_index, filters=(16, 32, 64, 128),
                             dropout_rate=0.3):
    """A compact VGG16-style 2D CNN on axial slice ``slice_index`` of the volume.

    Args:
        volume_shape: (D, H, W, 1).
        slice_index: which of the D slices the network sees (chosen on the training split).
    """
    inputs = _volume_input(volume_shape)
    depth, height, width, _ = volume_shape
    if not 0 <= slice_index < depth:
        raise ValueError(f"slice_index must lie in 0..{depth - 1}, got {slice_index}.")
    # Cropping the depth axis to one slice keeps the model self-contained (no Lambda layer to serialise).
    x = layers.Cropping3D(((slice_index, depth - slice_index - 1), (0, 0), (0, 0)), name="pick_slice")(inputs)
    x = layers.Reshape((height, width, 1), name="slice")(x)
    outputs = compact_vgg_outputs(x, num_classes, block_filters=filters, convs_per_block=(2,) * len(filters),
                                  dense_units=0, dropout_rate=dropout_rate)
    return keras.Model(inputs, outputs, name="single_slice")


def build_late_fusion_model(volume_shape, num_classes, filters=(8, 16, 32, 64), dropout_rate=0.3):
    """A 2D CNN applied to every slice with shared weights, slice features pooled (mean and max).

    A 2D convolution applied to each slice with the same weights is exactly a 3D convolution whose kernel
    is one slice deep (1 x 3 x 3), and likewise for pooling; written that way the per-slice network runs as a
    few large operations instead of ``TimeDistributed``'s reshapes (several times faster on a CPU), and the
    graph stays flat, so Grad-CAM reaches the per-slice feature maps (D, h, w, F).
    """
    inputs = _volume_input(volume_shape)
    depth = volume_shape[0]
    # TODO: late fusion. Per block of ``filters``: two Conv3D(width, (1, 3, 3), padding="same", use_bias=False)
    #       + BatchNormalization + ReLU (name the very last ReLU "late_block_last": Grad-CAM explains it), and a
    #       MaxPooling3D((1, 2, 2)) after every block but the last. Then average each slice's feature maps
    #       (AveragePooling3D over height and width), reshape to (depth, features), pool over the slices with
    #       both GlobalAveragePooling1D and GlobalMaxPooling1D and concatenate the two into x.
    # BEGIN SOLUTION
    x = inputs
    for block, width in enumerate(filters, start=1):
        for index in (1, 2):
            x = layers.Conv3D(width, (1, 3, 3), padding="same", use_bias=False,
                              name=f"late_block{block}_conv{index}")(x)
            x = layers.BatchNormalization(name=f"late_block{block}_bn{index}")(x)
            last = (block, index) == (len(filters), 2)
            x = layers.ReLU(name="late_block_last" if last else f"late_block{block}_relu{index}")(x)
        if block < len(filters):
            x = layers.MaxPooling3D((1, 2, 2), name=f"late_block{block}_pool")(x)
    height, width = x.shape[2], x.shape[3]
    x = layers.AveragePooling3D((1, height, width), name="slice_pool")(x)  # (N, D, 1, 1, F)
    x = layers.Reshape((depth, filters[-1]), name="slice_features")(x)  # one feature vector per slice
    pooled = [layers.GlobalAveragePooling1D(name="mean_over_slices")(x),
              layers.GlobalMaxPooling1D(name="max_over_slices")(x)]
    x = layers.Concatenate(name="fused")(pooled)
    # END SOLUTION
    outputs = classifier_head(x, num_classes, dropout_rate=dropout_rate)
    return keras.Model(inputs, outputs, name="late_fusion")


def build_early_fusion_model(volume_shape, num_classes, filters=(16, 32, 64, 128), dropout_rate=0.3):
    """The D slices stacked as the channels of one 2D image (H, W, D), then a compact VGG16-style 2D CNN."""
    inputs = _volume_input(volume_shape)
    depth, height, width, _ = volume_shape
    # TODO: early fusion: make the (depth, height, width, 1) volume a 2D image whose channels are the slices,
    #       (height, width, depth), with a Reshape that drops the channel axis and a Permute; call the result x.
    # BEGIN SOLUTION
    x = layers.Reshape((depth, height, width), name="drop_channel")(inputs)
    x = layers.Permute((2, 3, 1), name="slices_as_channels")(x)
    # END SOLUTION
    outputs = compact_vgg_outputs(x, num_classes, block_filters=filters, convs_per_block=(2,) * len(filters),
                                  dense_units=0, dropout_rate=dropout_rate)
    return keras.Model(inputs, outputs, name="early_fusion")


def build_resnet3d(volume_shape, num_classes, stage_blocks=(1, 1, 1), stage_filters=(8, 16, 32), dropout_rate=0.3,
                   stem_strides=1):
    """A 3D ResNet of bottleneck blocks (1x1x1 reduce, 3x3x3, 1x1x1 expand by 4) on the whole volume.

    ``stem_strides=2`` halves the volume in its first convolution, as ResNets do; 3D convolutions at full
    resolution dominate the cost on a CPU.
    """
    inputs = _volume_input(volume_shape)
    outputs = resnet_outputs(inputs, num_classes, stage_blocks, stage_filters, bottleneck=True,
                             small_input_stem=True, stem_filters=2 * stage_filters[0], dropout_rate=dropout_rate,
                             stem_strides=stem_strides)
    return keras.Model(inputs, outputs, name="resnet3d")


def compile_classifier(model, learning_rate):
    """Adam, cross-entropy on one-hot labels, accuracy. Early stopping and the checkpoint watch the exact
    validation AUC (``common.train.ValidationAUC``), the number the results table reports."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return model
