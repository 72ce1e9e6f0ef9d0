"""A deeper custom CNN for small 2D medical images (28-64 px), buildable in Keras 3 and in tf_keras.

Each block is two (3x3 convolution -> batch norm -> ReLU) units and a 2x2 max-pool; global average pooling,
dropout, a dense ReLU layer, dropout and a softmax classifier follow. The same function builds the Keras 3
model used for training and its tf_keras (Keras 2) twin that quantization-aware training needs
(``common.qat``): pass ``keras_module=tf_keras``. Every layer has an explicit name, so the two models have the
same layer names and weight shapes and weights can be copied from one to the other by name.

The network is kept quantization-friendly: convolution -> batch norm -> ReLU is the pattern the TFLite
converter and tensorflow-model-optimization fold into one int8 convolution, and every layer is one that
tfmot's default 8-bit scheme supports. There are no augmentation layers inside the model (augment in the
``tf.data`` pipeline instead): they do nothing at inference and tfmot cannot quantize them.
"""


def _default_keras_module():
    from common.tf_setup import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras

    return keras


def build_custom_cnn(input_shape, num_classes, filters=(32, 64, 128), dropout_rate=0.3, dense_units=128,
                     keras_module=None, name="custom_cnn", output_activation="softmax"):
    """Build the custom CNN classifier.

    Args:
        input_shape: (H, W, C) of the images, e.g. (28, 28, 1) or (64, 64, 3); H and W should be at least
            ``2 ** len(filters)`` so that every max-pool has something to pool.
        num_classes: number of classes, at least 2 (a binary task uses 2 softmax outputs).
        filters: the number of filters of the two convolutions of each block; one block per entry.
        dropout_rate: dropout before and after the dense layer, in [0, 1); 0 leaves dropout out.
        dense_units: width of the dense ReLU layer before the classifier.
        keras_module: the Keras whose layers build the model: ``None`` for Keras 3 (``keras``), or the
            ``tf_keras`` module for the Keras 2 twin used by quantization-aware training.
        name: the model's name.
        output_activation: "softmax" (one class per image; the outputs sum to 1), "sigmoid" (multi-label:
            one independent probability per label, e.g. the 14 findings of ChestMNIST), or "linear" (the logits,
            for a model whose activation is applied elsewhere, as in quantization-aware training).

    Returns:
        An uncompiled functional model mapping float32 images (N, H, W, C), scaled as in training, to float32
        probabilities (N, num_classes).
    """
    if len(tuple(input_shape)) != 3:
        raise ValueError(f"build_custom_cnn takes 2D images of shape (H, W, C), got input_shape {input_shape}. "
                         "For volumes use a 3D model such as common.models.resnet.build_resnet.")
    if not filters or any(int(count) < 1 for count in filters):
        raise ValueError(f"filters must be a non-empty sequence of positive integers, got {filters}.")
    min_size = 2 ** len(filters)
    if min(input_shape[:2]) < min_size:
        raise ValueError(f"{len(filters)} blocks halve the image {len(filters)} times, so H and W must be at least "
                         f"{min_size}; got input_shape {input_shape}. Use fewer filters entries or larger images.")
    if int(num_classes) < 2:
        raise ValueError(f"num_classes must be at least 2 (softmax outputs; use 2 for a binary task), "
                         f"got {num_classes}.")
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"dropout_rate must lie in [0, 1), got {dropout_rate}.")
    if int(dense_units) < 1:
        raise ValueError(f"dense_units must be a positive integer, got {dense_units}.")
    if output_activation not in ("softmax", "sigmoid", "linear"):
        raise ValueError(f"output_activation must be 'softmax', 'sigmoid' (multi-label) or 'linear' (logits), got "
                         f"{output_activation!r}.")

    keras_module = keras_module if keras_module is not None else _default_keras_module()
    layers = keras_module.layers

    inputs = keras_module.Input(shape=tuple(input_shape), name="image")
    x = inputs
    for block, block_filters in enumerate(filters, start=1):
        for unit in (1, 2):
            # No convolution bias: the batch norm that follows supplies the shift, and the converter folds
            # the batch norm into the convolution's weights and bias anyway.
            x = layers.Conv2D(int(block_filters), 3, padding="same", use_bias=False,
                              name=f"block{block}_conv{unit}")(x)
            x = layers.BatchNormalization(name=f"block{block}_bn{unit}")(x)
            x = layers.ReLU(name=f"block{block}_relu{unit}")(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"block{block}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    if dropout_rate:
        x = layers.Dropout(dropout_rate, name="features_dropout")(x)
    x = layers.Dense(int(dense_units), activation="relu", name="dense")(x)
    if dropout_rate:
        x = layers.Dropout(dropout_rate, name="dense_dropout")(x)
    # float32 outputs even under a mixed-precision policy: float16 softmax probabilities lose resolution.
    outputs = layers.Dense(int(num_classes), activation=output_activation, dtype="float32", name="predictions")(x)
    return keras_module.Model(inputs, outputs, name=name)
