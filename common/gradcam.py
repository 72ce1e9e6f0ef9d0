"""Grad-CAM (Selvaraju et al., ICCV 2017) for 2D and 3D convolutional classifiers, and CAM (Zhou et al., CVPR
2016), the class activation maps CheXNet draws, for networks that end in global average pooling and one dense
layer.

The class score's gradient with respect to a convolutional layer's feature maps, averaged over every spatial
axis, weights those maps; their weighted sum, passed through a ReLU and scaled to [0, 1], shows where the
evidence for the class lies. Works for any spatial rank (images (H, W) and volumes (D, H, W)) and for transfer
models built flat (the backbone's layers part of the model itself, not a nested model).
"""

import numpy as np

from common.tf_setup import import_tensorflow_quietly

tf = import_tensorflow_quietly()
import keras  # noqa: E402


def last_conv_layer_name(model):
    """The name of the last layer whose output is a spatial feature map (rank 4 for 2D, 5 for 3D)."""
    for layer in reversed(model.layers):
        if isinstance(layer, keras.Model):
            raise ValueError(f"{layer.name} is a nested model; Grad-CAM needs the backbone built flat "
                             "(e.g. VGG16(include_top=False, input_tensor=inputs)). Pass layer_name explicitly "
                             "for a layer of the outer model.")
        if isinstance(layer, keras.layers.Conv1D | keras.layers.Conv2D | keras.layers.Conv3D) or (
                "conv" in layer.name and len(layer.output.shape) in (4, 5)):
            return layer.name
    raise ValueError(f"{model.name} has no convolutional layer for Grad-CAM.")


def grad_cam(model, inputs, class_index=None, layer_name=None, resize_to=None):
    """Grad-CAM heat maps for a batch.

    Args:
        model: a functional Keras classifier with softmax (or sigmoid) outputs.
        inputs: array (N, *spatial, C) as the model expects it.
        class_index: the class to explain, an int or one per input; default: each input's predicted class.
        layer_name: the feature-map layer; default: the last convolutional layer.
        resize_to: the spatial shape of the returned maps; default: the input's. Needed when the feature
            maps have another rank than the input, e.g. a 2D network fed a slice or a stack of slices cut from
            a volume inside the model.

    Returns:
        (heatmaps, class_indices): float32 (N, *spatial) in [0, 1], resized to the input's spatial shape,
        and the explained class of each input.
    """
    inputs = np.asarray(inputs, dtype=np.float32)
    if len(inputs) == 1:
        # TensorFlow 2.21's oneDNN kernel for the filter gradient of a strided 1x1 convolution (a ResNet's
        # projection shortcut) corrupts memory for a batch of one image and kills the process; explaining the
        # image twice in one batch avoids that kernel path. The maps are per image, so the copy changes nothing.
        heatmaps, classes = grad_cam(model, np.concatenate([inputs, inputs]), class_index, layer_name, resize_to)
        return heatmaps[:1], classes[:1]
    layer = model.get_layer(layer_name or last_conv_layer_name(model))
    grad_model = keras.Model(model.input, [layer.output, model.output])
    with tf.GradientTape() as tape:
        features, predictions = grad_model(inputs, training=False)
        if class_index is None:
            classes = tf.argmax(predictions, axis=-1, output_type=tf.int32)
        else:
            classes = tf.broadcast_to(tf.constant(class_index, dtype=tf.int32), [inputs.shape[0]])
        scores = tf.gather(predictions, classes, axis=-1, batch_dims=1)
    gradients = tape.gradient(scores, features)
    spatial_axes = tuple(range(1, len(features.shape) - 1))  # (1, 2) for images, (1, 2, 3) for volumes
    weights = tf.reduce_mean(gradients, axis=spatial_axes, keepdims=True)
    cams = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1)).numpy()
    peaks = cams.reshape(len(cams), -1).max(axis=1)
    cams = cams / np.where(peaks > 0, peaks, 1.0).reshape(-1, *([1] * (cams.ndim - 1)))
    target = tuple(resize_to) if resize_to is not None else inputs.shape[1:-1]
    if len(target) != cams.ndim - 1:
        raise ValueError(f"{layer.name} gives {cams.ndim - 1}D maps but the input is {len(inputs.shape) - 2}D; "
                         "pass resize_to with the spatial shape the maps should have.")
    return _resize(cams, target).astype(np.float32), classes.numpy()


def class_activation_map(model, inputs, feature_layer, output_layer, class_index=0):
    """CAM: the feature maps of ``feature_layer`` weighted by ``output_layer``'s weights for unit ``class_index``
    (sum over channels of w_k f_k), for a network whose feature maps reach that dense layer through global average
    pooling only (dropout aside); passed through a ReLU and scaled to [0, 1] per image, like ``grad_cam``.

    Args:
        model: a functional Keras model; inputs (N, H, W, C) as it takes them.
        feature_layer, output_layer: the names of the last feature-map layer and of the dense output layer.
        class_index: the output unit explained (0: a single sigmoid).

    Returns:
        float32 (N, H, W) in [0, 1], resized to the input's spatial shape.
    """
    inputs = np.asarray(inputs, dtype=np.float32)
    features = keras.Model(model.input, model.get_layer(feature_layer).output)(inputs, training=False)
    kernel = np.asarray(model.get_layer(output_layer).get_weights()[0])  # (channels, units)
    if kernel.shape[0] != features.shape[-1]:
        raise ValueError(f"{output_layer} takes {kernel.shape[0]} features but {feature_layer} has "
                         f"{features.shape[-1]} channels; CAM needs global average pooling between them.")
    cams = np.maximum(np.tensordot(np.asarray(features, np.float32), kernel[:, class_index], axes=([-1], [0])), 0.0)
    peaks = cams.reshape(len(cams), -1).max(axis=1)
    cams = cams / np.where(peaks > 0, peaks, 1.0).reshape(-1, *([1] * (cams.ndim - 1)))
    return _resize(cams, inputs.shape[1:-1]).astype(np.float32)


def _resize(cams, spatial_shape):
    """Linear resize of (N, *small) maps to (N, *spatial_shape), with the suite's one resampler."""
    from common.volume_preprocess import resample

    return np.clip(np.stack([resample(cam, spatial_shape) for cam in cams]), 0.0, 1.0)


def overlay(image, heatmap, alpha=0.4):
    """An RGB float image in [0, 1]: a grey or RGB image (H, W[, C]) with a jet-coloured heat map on top."""
    import matplotlib

    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    span = image.max() - image.min()
    image = (image - image.min()) / (span if span > 0 else 1.0)
    rgb = np.stack([image] * 3, axis=-1) if image.ndim == 2 else image
    colours = matplotlib.colormaps["jet"](heatmap)[..., :3]
    return np.clip((1 - alpha) * rgb + alpha * colours, 0.0, 1.0)
