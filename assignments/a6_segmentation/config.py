"""Assignment 6's hyper-parameters: one dataclass, every default commented, every field a CLI flag."""

import dataclasses

from common.config import ConfigError, RunConfig, old_dataset_spellings

# The folder name, so that a copy of this folder under a new name writes its own runs.
ASSIGNMENT = __package__.rsplit(".", 1)[-1]
MODELS = ("unet", "attention_unet")
# The data sets a run can name (--dataset); --data takes a folder of your own instead.
DATA_SETS = ("isbi2012_em", "msd_hippocampus", "sample", "sample3d")


@dataclasses.dataclass
class A6Config(RunConfig):
    """Settings of one assignment-6 run (the shared ones are documented on RunConfig)."""

    DATASETS = DATA_SETS
    LEGACY = old_dataset_spellings(DATA_SETS)

    # The data set when --data is not given: isbi2012_em (DATA_DIR/isbi2012_em, 24 EM slices, 2D),
    # msd_hippocampus (the Decathlon's Task04, 3D MRI, downloaded with its MD5 into DATA_DIR/hippocampus), or
    # sample / sample3d (synthetic stand-ins of the two, for demos and tests; not results).
    dataset: str = "isbi2012_em"
    # Your own images instead: a folder with images/ + masks/ (2D, paired by name) or imagesTr/ + labelsTr/ (the
    # Decathlon layout, 3D).
    data: str = ""
    # 2D data (a stack of serial sections, split in contiguous runs because neighbouring sections are alike):
    # the last this many slices are the test set.
    test_slices: int = 5
    # 2D data: the this many slices before the test slices are the validation set.
    val_slices: int = 3
    # 3D data (independent cases, a seeded random split): the share of volumes held out for testing.
    test_fraction: float = 0.2
    # 3D data: the share of volumes held out for validation.
    validation_fraction: float = 0.15

    # Which models to train; both get the same widths.
    models: tuple[str, ...] = MODELS
    # Widths of the 2D U-Net's levels, the last one its bottom.
    filters: tuple[int, ...] = (16, 32, 64, 128)
    # Widths of the 3D U-Net's levels, for volumes.
    filters_3d: tuple[int, ...] = (8, 16, 32)
    # Dropout rate at the bottom of the U-Net.
    dropout_rate: float = 0.1
    # 2D training crops, px per side (random places in the training images); whole images are predicted tile by
    # tile with this tile size.
    crop_size: int = 128
    # 3D training crops and prediction tiles, voxels per side.
    crop_size_3d: int = 16
    # Overlap of neighbouring prediction tiles (a share of the tile).
    tile_overlap: float = 0.5
    # Crops per training batch.
    batch_size: int = 4
    # An "epoch" is this many batches of random crops (there are only a few training images).
    steps_per_epoch: int = 60
    # Upper bound on epochs; early stopping ends most runs sooner.
    epochs: int = 40
    # Early stopping on the validation pixel accuracy: stop after this many epochs without a better one.
    patience: int = 10
    # Halve the learning rate after this many epochs without a better validation pixel accuracy.
    reduce_lr_patience: int = 4
    # Adam learning rate.
    learning_rate: float = 1e-3
    # The loss is cross-entropy + dice_weight x soft Dice loss.
    dice_weight: float = 1.0
    # Augment every training crop, image and mask alike, with random flips and 90-degree turns.
    flips: bool = True
    # Elastic deformation of every training crop: a smooth random displacement of this many px rms (0: off).
    elastic_alpha: float = 3.0
    # Elastic deformation: the displacement field is smooth over this many px.
    elastic_sigma: float = 10.0
    # Test slices (or volumes) shown in the per-slice figure.
    figure_cases: int = 5

    def validate(self):
        super().validate()
        unknown = [name for name in self.models if name not in MODELS]
        if unknown or not self.models:
            raise ConfigError(f"--models takes {', '.join(MODELS)} (comma-separated); got {', '.join(self.models)}.")
        for name in ("filters", "filters_3d"):
            if len(getattr(self, name)) < 2 or min(getattr(self, name)) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} needs at least two positive widths, e.g. 16,32,64.")
        for name, filters in (("crop_size", self.filters), ("crop_size_3d", self.filters_3d)):
            depth = 2 ** (len(filters) - 1)
            if getattr(self, name) % depth or getattr(self, name) < depth:
                raise ConfigError(f"--{name.replace('_', '-')} must be a multiple of {depth} ({len(filters) - 1} "
                                  f"poolings), not {getattr(self, name)}.")
        if not 0.0 <= self.tile_overlap < 1.0:
            raise ConfigError(f"--tile-overlap must lie in [0, 1), not {self.tile_overlap}.")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ConfigError(f"--dropout-rate must lie in [0, 1), not {self.dropout_rate}.")
        if not (0.0 < self.test_fraction < 1.0 and 0.0 < self.validation_fraction < 1.0
                and self.test_fraction + self.validation_fraction < 1.0):
            raise ConfigError("--test-fraction and --validation-fraction must each lie in (0, 1) and leave cases to "
                              f"train on; got {self.test_fraction} and {self.validation_fraction}.")
        self.require_at_least("test_slices", "val_slices", "batch_size", "steps_per_epoch", "epochs", "patience",
                              "figure_cases")


# --smoke: synthetic EM slices (or volumes with --dataset sample3d), tiny widths, a few short epochs.
SMOKE = {
    "dataset": "sample",
    "test_slices": 2,
    "val_slices": 2,
    "filters": (8, 16, 32),
    "filters_3d": (4, 8),
    "crop_size": 64,
    "crop_size_3d": 16,
    "batch_size": 4,
    "steps_per_epoch": 6,
    "epochs": 2,
    "patience": 2,
    "reduce_lr_patience": 0,
    "figure_cases": 2,
}
