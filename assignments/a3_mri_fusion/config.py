"""Assignment 3's hyper-parameters: one dataclass, every default commented, every field a CLI flag."""

import dataclasses

from common.config import ConfigError, RunConfig, old_dataset_spellings

# The folder name, so that a copy of this folder under a new name writes its own runs.
ASSIGNMENT = __package__.rsplit(".", 1)[-1]

APPROACHES = ("single_slice", "late_fusion", "early_fusion", "resnet3d")
MEDMNIST_STAND_INS = ("adrenalmnist3d", "adrenalmnist3d_64", "nodulemnist3d", "nodulemnist3d_64")


@dataclasses.dataclass
class A3Config(RunConfig):
    """Settings of one assignment-3 run (the shared ones are documented on RunConfig)."""

    DATASETS = ("synthetic", *MEDMNIST_STAND_INS)
    LEGACY = old_dataset_spellings(DATASETS)

    # The data set when --data is not given: synthetic (computer-made stand-ins built on a real brain anatomy,
    # written to data/samples/) or a MedMNIST 3D set in DATA_DIR/medmnist with its official split:
    # adrenalmnist3d_64 or adrenalmnist3d (shape masks of adrenal glands from CT, not MRI intensities),
    # nodulemnist3d_64 or nodulemnist3d (lung nodules in CT).
    dataset: str = "synthetic"
    # Your own volumes instead: a folder root/<class>/<case>.nii.gz or root/<class>/<case>/ (a DICOM series), or
    # a CSV file with the columns path,label.
    data: str = ""
    # Synthetic stand-in: cases written per class (normal, tumour).
    synthetic_cases_per_class: int = 150
    # Share of each class held out for testing, for data without an official split.
    test_fraction: float = 0.2
    # Share of each class held out for validation, for data without an official split.
    validation_fraction: float = 0.2

    # ---- Preprocessing, in this order: percentile windowing (contrast), optional CLAHE per axial slice,
    # trilinear resampling to depth x image_size x image_size, per-volume normalisation ----

    # Axial slices after resampling. 32^3 keeps the two costly approaches (late fusion, 3D ResNet) near 20 s and
    # 8 s per epoch on 2 CPU cores for ~1,200 volumes; 64 in-plane doubles to quadruples that.
    depth: int = 32
    # In-plane side after resampling, px.
    image_size: int = 32
    # Lower percentile of the intensity window: hides a few extreme voxels that would set the contrast range.
    window_low: float = 1.0
    # Upper percentile of the intensity window.
    window_high: float = 99.0
    # Contrast-limited adaptive histogram equalisation (CLAHE) of each axial slice.
    clahe: bool = False
    # Per-volume normalisation: "zscore" (mean 0, sd 1) or "minmax" ([0, 1]).
    normalization: str = "zscore"

    # Which approaches to train, compared in one table.
    approaches: tuple[str, ...] = APPROACHES
    # Single slice: "informative" picks the slice whose mean differs most between the classes on the
    # training split; "central" takes the middle slice.
    slice_selection: str = "informative"
    # Widths of the 2D backbone (compact VGG16-style blocks) shared by single slice, late and early fusion.
    filters_2d: tuple[int, ...] = (16, 32, 64, 128)
    # Late fusion runs the 2D backbone on every slice; this lighter one keeps its cost near the others'.
    late_fusion_filters: tuple[int, ...] = (8, 16, 32, 64)
    # 3D ResNet: bottleneck blocks per stage.
    resnet_blocks: tuple[int, ...] = (1, 1, 1)
    # 3D ResNet: inner widths of each stage's bottlenecks (their outputs are 4x wider).
    resnet_filters: tuple[int, ...] = (8, 16, 32)
    # Stride of the ResNet's first convolution: 2 halves the volume before the first stage (about 5x faster).
    resnet_stem_strides: int = 2
    # Dropout rate of every approach's head.
    dropout_rate: float = 0.3

    # Upper bound on epochs, the same for every approach.
    epochs: int = 40
    # Training batch size.
    batch_size: int = 16
    # Adam learning rate.
    learning_rate: float = 1e-3
    # Early stopping and checkpoint choice on validation AUC: stop after this many epochs without a better one.
    patience: int = 10
    # Halve the learning rate after this many epochs without a better validation AUC.
    reduce_lr_patience: int = 4
    # Random flips along each in-plane axis and small shifts, applied to training batches only.
    augment: bool = True
    # Weight the loss by inverse class frequency (the MedMNIST 3D sets are about 1:3 imbalanced).
    class_weight: bool = False

    # Figures: cases per class shown in the plane viewer and with Grad-CAM.
    gradcam_cases_per_class: int = 2

    def validate(self):
        super().validate()
        unknown = [name for name in self.approaches if name not in APPROACHES]
        if unknown or not self.approaches:
            raise ConfigError(f"--approaches takes one or more of {', '.join(APPROACHES)}; got "
                              f"{', '.join(self.approaches) or 'none'}.")
        if self.slice_selection not in ("informative", "central"):
            raise ConfigError("--slice-selection must be informative or central.")
        if self.normalization not in ("zscore", "minmax"):
            raise ConfigError("--normalization must be zscore or minmax.")
        if not 0.0 <= self.window_low < self.window_high <= 100.0:
            raise ConfigError("--window-low and --window-high are percentiles with 0 <= low < high <= 100.")
        for name in ("test_fraction", "validation_fraction"):
            if not 0.0 < getattr(self, name) < 0.5:
                raise ConfigError(f"--{name.replace('_', '-')} must lie between 0 and 0.5 (e.g. 0.2).")
        blocks = len(self.filters_2d)
        if self.image_size < 2 ** blocks or self.image_size % 2 ** blocks:
            raise ConfigError(f"--image-size must be a multiple of 2^{blocks} (one halving per 2D block of "
                              f"--filters-2d), e.g. 64; got {self.image_size}.")
        if len(self.resnet_blocks) != len(self.resnet_filters):
            raise ConfigError("--resnet-blocks and --resnet-filters need the same number of stages.")
        if self.depth < 2 ** (len(self.resnet_filters) - 1):
            raise ConfigError(f"--depth must be at least {2 ** (len(self.resnet_filters) - 1)} for "
                              f"{len(self.resnet_filters)} ResNet stages.")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ConfigError("--dropout-rate must lie in [0, 1).")
        if self.learning_rate <= 0:
            raise ConfigError("--learning-rate must be positive.")
        self.require_at_least("epochs", "batch_size", "patience", "reduce_lr_patience", "depth")
        if self.resnet_stem_strides not in (1, 2):
            raise ConfigError("--resnet-stem-strides must be 1 (full resolution) or 2 (halved).")
        self.require_at_least("synthetic_cases_per_class", minimum=4)
        self.require_at_least("gradcam_cases_per_class", minimum=0)


# --smoke: a few small synthetic volumes, narrow networks, two epochs each; about a minute.
SMOKE = {
    "dataset": "synthetic",
    "synthetic_cases_per_class": 10,
    "depth": 8,
    "image_size": 32,
    "filters_2d": (8, 16),
    "late_fusion_filters": (4, 8),
    "resnet_blocks": (1, 1),
    "resnet_filters": (4, 8),
    "epochs": 2,
    "patience": 2,
    "reduce_lr_patience": 1,
    "batch_size": 8,
    "gradcam_cases_per_class": 1,
}
