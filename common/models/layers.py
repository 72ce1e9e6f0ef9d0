"""Rank-generic building blocks: the 2D or 3D version of a layer is picked from the tensor's rank."""

from common.tf_setup import import_tensorflow_quietly

import_tensorflow_quietly()
from keras import layers  # noqa: E402


def spatial_rank(tensor_or_shape):
    """2 for images (N, H, W, C) or shape (H, W, C); 3 for volumes (N, D, H, W, C) or shape (D, H, W, C)."""
    shape = tuple(getattr(tensor_or_shape, "shape", tensor_or_shape))
    rank = len(shape) - (2 if hasattr(tensor_or_shape, "shape") else 1)
    if rank not in (2, 3):
        raise ValueError(f"expected images (H, W, C) or volumes (D, H, W, C), got shape {shape}.")
    return rank


def conv(rank, filters, kernel_size=3, strides=1, name=None, **kwargs):
    layer = layers.Conv2D if rank == 2 else layers.Conv3D
    return layer(filters, kernel_size, strides=strides, padding="same", use_bias=False, name=name, **kwargs)


def max_pool(rank, pool_size=2, strides=None, name=None):
    layer = layers.MaxPooling2D if rank == 2 else layers.MaxPooling3D
    return layer(pool_size, strides=strides, padding="same", name=name)


def global_average_pool(rank, name=None):
    return (layers.GlobalAveragePooling2D if rank == 2 else layers.GlobalAveragePooling3D)(name=name)


def conv_bn_relu(x, filters, kernel_size=3, strides=1, name=None):
    """Convolution (no bias: batch norm supplies the shift), batch norm, ReLU."""
    rank = spatial_rank(x)
    x = conv(rank, filters, kernel_size, strides, name=f"{name}_conv" if name else None)(x)
    x = layers.BatchNormalization(name=f"{name}_bn" if name else None)(x)
    return layers.ReLU(name=f"{name}_relu" if name else None)(x)


def classifier_head(x, num_classes, dense_units=0, dropout_rate=0.0, name="classifier"):
    """Optional dense layer and dropout, then the softmax classifier (float32 under mixed precision)."""
    if dropout_rate:
        x = layers.Dropout(dropout_rate, name=f"{name}_dropout")(x)
    if dense_units:
        x = layers.Dense(dense_units, activation="relu", name=f"{name}_dense")(x)
        if dropout_rate:
            x = layers.Dropout(dropout_rate, name=f"{name}_dense_dropout")(x)
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name=name)(x)
