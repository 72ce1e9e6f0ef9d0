"""Assignment 2's hyper-parameters: one dataclass, every default commented, every field a CLI flag."""

import dataclasses

from common.config import ConfigError, RunConfig, old_dataset_spellings

# The folder name, so that a copy of this folder under a new name writes its own runs.
ASSIGNMENT = __package__.rsplit(".", 1)[-1]

MODELS = ("compact_vgg16", "resnet", "vit", "vgg16_transfer", "resnet50_transfer")
TRANSFER_MODELS = ("vgg16_transfer", "resnet50_transfer")
IMBALANCE_STRATEGIES = ("oversampling", "class_weight")
NORMALIZATIONS = ("per_image", "dataset")


@dataclasses.dataclass
class A2Config(RunConfig):
    """Settings of one assignment-2 run (the shared ones are documented on RunConfig)."""

    DATASETS = ("synthetic",)
    LEGACY = old_dataset_spellings(DATASETS)

    # The data set when --data is not given: synthetic, DaTscan-like phantoms written to data/samples/ on first
    # use (common.datasets.synthetic_spect; they show the pipeline working, they are not patient data).
    dataset: str = "synthetic"
    # Your own images instead (the course's DaTscans): a folder root/<stage>/*.png (or .jpg, .dcm, .nii.gz, DICOM
    # series folders), one sub-folder per class, or a CSV file with the columns path,label (paths relative to it).
    data: str = ""
    # Class order (label 0, 1, ...); empty: the folder names (or CSV labels), sorted. Stages should be given in
    # order of severity; for a binary set the second class is the positive one (AUC and recall of "disease").
    class_names: tuple[str, ...] = ()
    # Synthetic phantoms: cases per stage (imbalanced on purpose). 150/100/50 keeps the default run near 4 minutes
    # on 2 CPU cores.
    synthetic_counts: tuple[int, ...] = (150, 100, 50)
    # Synthetic phantoms: image size, rows and columns.
    synthetic_shape: tuple[int, ...] = (109, 91)
    # Synthetic phantoms: every this many cases is written as a NIfTI or DICOM volume instead of a PNG.
    synthetic_volume_every: int = 25

    # Share of every class held out as the test set, used once at the end.
    test_fraction: float = 0.2
    # Stratified k-fold cross-validation on the training part chooses the model and the imbalance strategy.
    # A class with fewer training cases than folds reduces the folds (with a warning).
    folds: int = 3
    # Share of each training part held out for early stopping (inside every fold, and for the final model).
    validation_fraction: float = 0.15

    # Images of another size than the most common one are resized to it with a warning ("resize") or refused
    # ("error").
    size_mismatch: str = "resize"
    # A volume becomes one image: the mean of this many axial slices centred on the slice with the brightest
    # (striatal) uptake.
    volume_slices: int = 5
    # Side of the striatum-centred crop, px. 50 px (about 10 cm at 2 mm per pixel) holds both striata with a margin.
    crop_size: int = 50
    # Locating the striata: the image is smoothed with a Gaussian of this many px first.
    locate_sigma: float = 3.0
    # Locating the striata: the pixels above median + this share of (max - median) are kept, and the crop is
    # centred on their intensity-weighted centroid.
    locate_threshold: float = 0.5
    # Intensity normalisation: "per_image" divides each crop by its own 99.5th percentile (its striatal peak,
    # removing dose and scanner gain); "dataset" divides every crop by one value from the training images
    # (keeps absolute levels). Two given: both are cross-validated with the first model and imbalance strategy
    # listed, and the better one is used for everything else.
    normalizations: tuple[str, ...] = NORMALIZATIONS

    # Augment the training batches, as suits SPECT: small rotations and shifts (head positioning) and intensity
    # jitter (counts).
    augment: bool = True
    # Augmentation: rotations of up to this many degrees.
    max_rotation: float = 8.0
    # Augmentation: shifts of up to this many pixels.
    max_shift: int = 3
    # Augmentation: intensities scaled by a factor in [1 - j, 1 + j].
    intensity_jitter: float = 0.1
    # Augmentation: random left-right flips. Off by default: they swap the more and the less affected side, an
    # asymmetry a reader looks at.
    flip_left_right: bool = False

    # Ways of handling class imbalance to compare: "oversampling" repeats random minority-class cases until every
    # class is as frequent as the largest; "class_weight" weights the loss by inverse frequency.
    imbalance_strategies: tuple[str, ...] = IMBALANCE_STRATEGIES
    # The models compared (all five by default).
    models: tuple[str, ...] = MODELS

    # Compact "redefined" VGG16 (VGG16's 3x3-conv blocks, fewer and narrower, batch norm): filters per block.
    vgg_filters: tuple[int, ...] = (16, 32, 64)
    # Compact VGG16: convolutions per block.
    vgg_convs: tuple[int, ...] = (2, 2, 2)
    # Small ResNet (basic blocks, 3x3 stem without pooling): blocks per stage.
    resnet_blocks: tuple[int, ...] = (1, 1, 1)
    # Small ResNet: filters per stage.
    resnet_filters: tuple[int, ...] = (16, 32, 64)
    # Small ViT: patch side in px; it must divide --crop-size (50 / 5 = 10 x 10 = 100 tokens).
    vit_patch_size: int = 5
    # Small ViT: width of the token embeddings.
    vit_embed_dim: int = 48
    # Small ViT: transformer blocks.
    vit_depth: int = 3
    # Small ViT: attention heads per block.
    vit_heads: int = 4
    # Small ViT: hidden width of each block's MLP.
    vit_mlp_dim: int = 96
    # Transfer learning from ImageNet VGG16 / ResNet50: "imagenet" downloads the weights (needs internet; when
    # the download fails the two transfer models are skipped, and the report says so); "random" trains them from
    # random weights, for comparison only (then they are not transfer learning).
    transfer_weights: str = "imagenet"
    # Crops are resized to this many px inside the transfer models (at least 32; use 64 or more with real
    # ImageNet weights and a GPU).
    transfer_image_size: int = 32
    # 0 freezes the pretrained base and trains the new head (feature extraction, several times cheaper than
    # fine-tuning on a CPU); 1 also fine-tunes its last block (VGG16 block5, ResNet50 conv5), and so on.
    transfer_trainable_blocks: int = 0
    # Learning rate of the transfer models; lower it (e.g. 1e-4) when fine-tuning blocks.
    transfer_learning_rate: float = 1e-3
    # Head of every CNN: a dense layer of this many units (0: none).
    dense_units: int = 64
    # Head of every CNN: the dropout rate after the dense layer.
    dropout_rate: float = 0.3

    # Upper bound on epochs of every model in every fold (Adam; early stopping on validation AUC).
    epochs: int = 25
    # Training batch size.
    batch_size: int = 32
    # Adam learning rate of the models trained from scratch.
    learning_rate: float = 1e-3
    # Stop after this many epochs without a better validation AUC.
    patience: int = 6
    # Halve the learning rate after this many epochs without a better validation AUC.
    reduce_lr_patience: int = 3
    # Re-estimate batch-norm statistics on the clean training images after training (CNNs from scratch).
    recalibrate_batch_norm: bool = True

    def validate(self):
        super().validate()
        for name, allowed in (("models", MODELS), ("imbalance_strategies", IMBALANCE_STRATEGIES),
                              ("normalizations", NORMALIZATIONS)):
            values = getattr(self, name)
            unknown = [value for value in values if value not in allowed]
            if unknown or not values or len(set(values)) != len(values):
                raise ConfigError(f"--{name.replace('_', '-')} takes one or more of {', '.join(allowed)}, each once; "
                                  f"got {', '.join(values) or 'none'}.")
        if self.size_mismatch not in ("resize", "error"):
            raise ConfigError("--size-mismatch must be resize or error.")
        if self.transfer_weights not in ("imagenet", "random"):
            raise ConfigError("--transfer-weights must be imagenet or random.")
        if len(self.synthetic_counts) < 2 or min(self.synthetic_counts) < 1:
            raise ConfigError("--synthetic-counts needs a case count (at least 1) for each of two or more classes, "
                              "e.g. 200,130,70.")
        if len(self.synthetic_shape) != 2 or min(self.synthetic_shape) < 32:
            raise ConfigError("--synthetic-shape is rows,columns, each at least 32, e.g. 109,91.")
        if self.class_names and len(set(self.class_names)) != len(self.class_names):
            raise ConfigError("--class-names lists each class once.")
        if not 0.0 < self.test_fraction < 0.5 or not 0.0 < self.validation_fraction < 0.5:
            raise ConfigError("--test-fraction and --validation-fraction must lie between 0 and 0.5 (e.g. 0.2).")
        if self.folds < 2:
            raise ConfigError("--folds must be at least 2 (cross-validation needs two folds or more).")
        if self.crop_size < 32:
            raise ConfigError(f"--crop-size must be at least 32 px (both striata and the networks' pooling need "
                              f"it), not {self.crop_size}.")
        if self.crop_size % self.vit_patch_size:
            raise ConfigError(f"--vit-patch-size ({self.vit_patch_size}) must divide --crop-size ({self.crop_size}).")
        if self.vit_embed_dim % self.vit_heads:
            raise ConfigError(f"--vit-embed-dim ({self.vit_embed_dim}) must be a multiple of --vit-heads "
                              f"({self.vit_heads}).")
        if len(self.vgg_filters) != len(self.vgg_convs) or len(self.resnet_blocks) != len(self.resnet_filters):
            raise ConfigError("--vgg-filters and --vgg-convs (and --resnet-blocks and --resnet-filters) need one "
                              "entry per block / stage.")
        if self.transfer_image_size < 32:
            raise ConfigError("--transfer-image-size must be at least 32 (VGG16 and ResNet50 need it).")
        if not 0 <= self.transfer_trainable_blocks <= 5:
            raise ConfigError("--transfer-trainable-blocks must lie in 0..5.")
        if not 0.0 <= self.dropout_rate < 1.0 or not 0.0 <= self.intensity_jitter < 1.0:
            raise ConfigError("--dropout-rate and --intensity-jitter must lie in [0, 1).")
        if self.learning_rate <= 0 or self.transfer_learning_rate <= 0:
            raise ConfigError("Learning rates must be positive.")
        if self.max_rotation < 0 or self.max_shift < 0 or self.locate_sigma <= 0:
            raise ConfigError("--max-rotation and --max-shift must be >= 0, --locate-sigma > 0.")
        if not 0.0 < self.locate_threshold < 1.0:
            raise ConfigError("--locate-threshold must lie between 0 and 1 (e.g. 0.5).")
        self.require_at_least("epochs", "batch_size", "patience", "reduce_lr_patience", "volume_slices", "vit_depth",
                              "vit_heads", "vit_patch_size")
        self.require_at_least("synthetic_volume_every", "dense_units", minimum=0)


# --smoke: a few small phantoms, 32-px crops, tiny networks, 2 folds, 2 epochs; well under a minute on 2 cores.
SMOKE = {
    "dataset": "synthetic",
    "synthetic_counts": (16, 12, 8),
    "synthetic_shape": (64, 56),
    "synthetic_volume_every": 5,
    "folds": 2,
    "crop_size": 32,
    "locate_sigma": 2.0,
    "vgg_filters": (8, 16),
    "vgg_convs": (1, 1),
    "resnet_blocks": (1, 1),
    "resnet_filters": (8, 16),
    "vit_patch_size": 8,
    "vit_embed_dim": 16,
    "vit_depth": 1,
    "vit_heads": 2,
    "vit_mlp_dim": 32,
    "transfer_weights": "random",
    "transfer_image_size": 32,
    "transfer_trainable_blocks": 0,
    "dense_units": 16,
    "epochs": 2,
    "patience": 2,
    "reduce_lr_patience": 1,
    "batch_size": 16,
}
