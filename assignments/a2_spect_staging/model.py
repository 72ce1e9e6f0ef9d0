"""The five models compared in assignment 2: pure builder functions over ``common.models``.

Every model takes a normalised crop (crop_size, crop_size, 1), values about [0, 1], and returns softmax
probabilities (N, num_classes); a binary task has two outputs, the second being the positive class.

- ``compact_vgg16``: VGG16 "redefined" for small images: its blocks of 3x3 convolutions and 2x2 max-pools,
  fewer blocks and filters, batch norm, global average pooling.
- ``resnet``: a small ResNet of basic blocks with a 3x3 stem and no max-pool (the ImageNet stem would shrink a
  50-px crop to 13 px before the first block).
- ``vit``: a small Vision Transformer (patch embedding, learned position embeddings, transformer encoder).
- ``vgg16_transfer`` / ``resnet50_transfer``: ImageNet VGG16 / ResNet50 built flat, the grey crop repeated to
  three channels and ImageNet's preprocessing applied inside the model, resized inside the model to
  ``transfer_image_size``; their last block is fine-tuned (``transfer_trainable_blocks``).
"""

from common.models.resnet import build_resnet, build_resnet50_transfer
from common.models.vgg import build_compact_vgg, build_vgg16_transfer
from common.models.vit import build_vit
from common.tf_setup import import_tensorflow_quietly

from .config import TRANSFER_MODELS

import_tensorflow_quietly()
import keras  # noqa: E402

# Models whose batch-norm statistics are re-estimated after training (trained from scratch; the transfer
# models' frozen batch norm keeps ImageNet's statistics, and the ViT has none).
FROM_SCRATCH_CNNS = ("compact_vgg16", "resnet")
# A few hundred crops make about ten steps per epoch: with Keras's momentum of 0.99 the batch-norm statistics
# used for validation would lag the weights by many epochs, and early stopping would judge stale models.
BATCH_NORM_MOMENTUM = 0.9


def build_model(name, input_shape, num_classes, config, transfer_weights=None):
    """Build model ``name`` (one of ``config.MODELS``) for crops of ``input_shape`` (H, W, 1).

    Args:
        config: an ``A2Config`` (widths, depths, dropout, transfer settings).
        transfer_weights: "imagenet" or None, for the two transfer models (decided once per run, see
            ``common.models.transfer.choose_transfer_weights``).

    Returns:
        An uncompiled ``keras.Model``.
    """
    if name in FROM_SCRATCH_CNNS:
        if name == "compact_vgg16":
            model = build_compact_vgg(input_shape, num_classes, block_filters=config.vgg_filters,
                                      convs_per_block=config.vgg_convs, dense_units=config.dense_units,
                                      dropout_rate=config.dropout_rate, name=name)
        else:
            model = build_resnet(input_shape, num_classes, stage_blocks=config.resnet_blocks,
                                 stage_filters=config.resnet_filters, bottleneck=False, small_input_stem=True,
                                 dropout_rate=config.dropout_rate, name=name, subsample_projection=True)
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = BATCH_NORM_MOMENTUM
        return model
    if name == "vit":
        return build_vit(input_shape, num_classes, patch_size=config.vit_patch_size, embed_dim=config.vit_embed_dim,
                         depth=config.vit_depth, num_heads=config.vit_heads, mlp_dim=config.vit_mlp_dim,
                         dropout=config.dropout_rate / 3, name=name)
    size = config.transfer_image_size if config.transfer_image_size != input_shape[0] else None
    if name == "vgg16_transfer":
        return build_vgg16_transfer(input_shape, num_classes, weights=transfer_weights,
                                    trainable_blocks=config.transfer_trainable_blocks, image_size=size,
                                    dense_units=config.dense_units, dropout_rate=config.dropout_rate, name=name)
    if name == "resnet50_transfer":
        return build_resnet50_transfer(input_shape, num_classes, weights=transfer_weights,
                                       trainable_stages=config.transfer_trainable_blocks, image_size=size,
                                       dense_units=config.dense_units, dropout_rate=config.dropout_rate, name=name)
    raise ValueError(f"unknown model {name!r}.")


def learning_rate_for(name, config):
    """The transfer models fine-tune pretrained layers with a smaller step than the models trained from scratch."""
    return config.transfer_learning_rate if name in TRANSFER_MODELS else config.learning_rate


def compile_classifier(model, learning_rate):
    """Adam, cross-entropy on one-hot labels, accuracy. Early stopping watches the exact validation AUC
    (``common.train.ValidationAUC``): it does not depend on the class priors, which oversampling and class
    weights change."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return model
