"""A small Vision Transformer (Dosovitskiy et al., ICLR 2021) for small medical images, in plain Keras 3.

The image is cut into non-overlapping ``patch_size`` x ``patch_size`` patches; each patch is embedded linearly
(a convolution with kernel and stride ``patch_size``, which is exactly ViT's "flatten and project"), a learned
position embedding is added, and ``depth`` pre-norm transformer encoder blocks follow (layer norm, multi-head
self-attention, residual; layer norm, two-layer GELU MLP, residual). The tokens are averaged (global average
pooling) instead of read from a class token: on small data sets this trains as well or better and needs no
extra token (Beyer, Zhai & Kolesnikov, "Better plain ViT baselines for ImageNet-1k", 2022).

The model is flat and functional: built from Keras layers and one small registered layer
(``PositionEmbedding``), no ``Lambda`` layers, so ``model.save("vit.keras")`` and
``keras.saving.load_model`` round-trip it (import this module first, which registers the layer).

A transformer has none of a CNN's built-in assumptions about images (locality, translation equivariance), so
on a few hundred images it usually needs augmentation and more epochs to match a small CNN; that is the point of
comparing them.
"""

from common.tf_setup import import_tensorflow_quietly

import_tensorflow_quietly()
import keras  # noqa: E402
from keras import layers, ops  # noqa: E402


@keras.saving.register_keras_serializable(package="common.models.vit")
class PositionEmbedding(layers.Layer):
    """Adds a learned vector to every token position: (N, tokens, embed_dim) -> the same shape.

    The table has one row per position, initialised with small random values (standard deviation 0.02, as in
    ViT); the number of positions is fixed by the input shape when the layer is built.
    """

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(f"PositionEmbedding expects (batch, tokens, embed_dim) with known sizes, got "
                             f"{input_shape}.")
        self.embedding = self.add_weight(name="embedding", shape=(input_shape[1], input_shape[2]),
                                         initializer=keras.initializers.RandomNormal(stddev=0.02), trainable=True)

    def call(self, tokens):
        return tokens + ops.cast(self.embedding, tokens.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


def transformer_block(x, num_heads, mlp_dim, dropout_rate=0.0, name="encoder"):
    """One pre-norm transformer encoder block on tokens (N, T, E); returns (N, T, E)."""
    embed_dim = x.shape[-1]
    y = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm1")(x)
    y = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim // num_heads, dropout=dropout_rate,
                                  name=f"{name}_attention")(y, y)
    x = layers.Add(name=f"{name}_add1")([x, y])
    y = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm2")(x)
    y = layers.Dense(mlp_dim, activation="gelu", name=f"{name}_mlp1")(y)
    y = layers.Dropout(dropout_rate, name=f"{name}_mlp_dropout1")(y)
    y = layers.Dense(embed_dim, name=f"{name}_mlp2")(y)
    y = layers.Dropout(dropout_rate, name=f"{name}_mlp_dropout2")(y)
    return layers.Add(name=f"{name}_add2")([x, y])


def build_vit(input_shape, num_classes, patch_size=5, embed_dim=64, depth=4, num_heads=4, mlp_dim=128, dropout=0.1,
              name="vit"):
    """A Vision Transformer classifier for 2D images.

    Args:
        input_shape: (H, W, C); H and W must be multiples of ``patch_size``.
        num_classes: softmax outputs (at least 2; a binary task uses 2).
        patch_size: side of the square patches, in pixels; (H / patch_size) * (W / patch_size) tokens.
        embed_dim: width of every token; must be divisible by ``num_heads``.
        depth: number of transformer encoder blocks.
        num_heads: attention heads per block (each of width embed_dim / num_heads).
        mlp_dim: hidden width of each block's MLP (ViT uses 4 x embed_dim; 2 x is enough here).
        dropout: dropout rate in attention, MLP and before the classifier, in [0, 1).

    Returns:
        An uncompiled ``keras.Model`` mapping float32 images (N, H, W, C) to softmax probabilities
        (N, num_classes), float32 also under mixed precision.

    Raises:
        ValueError: a bad shape or setting, with the fix in the message.
    """
    input_shape = tuple(int(size) for size in input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"build_vit takes 2D images of shape (H, W, C), got input_shape {input_shape}.")
    height, width, _ = input_shape
    if patch_size < 1 or height % patch_size or width % patch_size:
        raise ValueError(f"patch_size {patch_size} must divide the image size {height} x {width}; choose a divisor "
                         "(e.g. 5 or 10 for 50 px) or crop the images to a multiple of it.")
    if embed_dim < 1 or num_heads < 1 or embed_dim % num_heads:
        raise ValueError(f"embed_dim ({embed_dim}) must be a positive multiple of num_heads ({num_heads}).")
    if depth < 1 or mlp_dim < 1:
        raise ValueError(f"depth ({depth}) and mlp_dim ({mlp_dim}) must be at least 1.")
    if int(num_classes) < 2:
        raise ValueError(f"num_classes must be at least 2 (use 2 for a binary task), got {num_classes}.")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout}.")

    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(embed_dim, patch_size, strides=patch_size, name="patch_embedding")(inputs)
    x = layers.Reshape(((height // patch_size) * (width // patch_size), embed_dim), name="tokens")(x)
    x = PositionEmbedding(name="position_embedding")(x)
    x = layers.Dropout(dropout, name="embedding_dropout")(x)
    for block in range(1, depth + 1):
        x = transformer_block(x, num_heads, mlp_dim, dropout, name=f"encoder{block}")
    x = layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    x = layers.GlobalAveragePooling1D(name="token_pool")(x)
    x = layers.Dropout(dropout, name="classifier_dropout")(x)
    outputs = layers.Dense(int(num_classes), activation="softmax", dtype="float32", name="classifier")(x)
    return keras.Model(inputs, outputs, name=name)
