"""Assignment 5's hyper-parameters: one dataclass, every default commented, every field a CLI flag."""

import dataclasses

from common.config import ConfigError, RunConfig, old_dataset_spellings

# The folder name, so that a copy of this folder under a new name writes its own runs.
ASSIGNMENT = __package__.rsplit(".", 1)[-1]


@dataclasses.dataclass
class A5Config(RunConfig):
    """Settings of one assignment-5 run (the shared ones are documented on RunConfig)."""

    DATASETS = ("brain_tumor_mri", "sample")
    LEGACY = old_dataset_spellings(DATASETS, real="brain_tumor_mri")

    # The data set: brain_tumor_mri (the Kaggle Brain Tumor MRI set in DATA_DIR/brain_tumor_mri, Training/ and
    # Testing/; it needs a Kaggle login, so it is placed by hand) or sample (synthetic slices made offline, for
    # demos and tests; not results).
    dataset: str = "brain_tumor_mri"
    # Your own copy of the set instead: a folder holding Training/ and Testing/, one sub-folder of images per
    # class in each. Empty: the --dataset.
    data: str = ""
    # Images are resized to image_size x image_size. 128 px keeps tumours visible and a CPU epoch near a minute.
    image_size: int = 128
    # 1: grey (MRI is single-channel; the files are often RGB-encoded grey); 3: RGB.
    channels: int = 1
    # Share of each class of Training held out for early stopping and model selection.
    validation_fraction: float = 0.15
    # Two perceptual hashes differing in at most this many of 64 bits count as near duplicates.
    duplicate_max_distance: int = 2

    # ---- The CNN from scratch ----

    # Filters per block; each block is two 3x3 conv + batch-norm + ReLU layers and a 2x2 max-pool.
    filters: tuple[int, ...] = (16, 32, 64, 128, 256)
    # Dropout rate before the classification layer.
    dropout_rate: float = 0.4
    # Peak learning rate of Adam; it follows a cosine decay to 1% of this over the epochs, so that the last
    # epochs take small steps and the batch-norm statistics settle (validation accuracy is noisy otherwise).
    learning_rate: float = 1e-3
    # Training batch size.
    batch_size: int = 32
    # Epochs of training, the length of the cosine schedule.
    epochs: int = 25
    # Early stopping on validation accuracy; generous, because the cosine schedule needs its last epochs.
    patience: int = 10
    # Random rotations (up to ~10 degrees), zooms and shifts (up to 10%), left-right flips and contrast
    # jitter: what varies between MRI slices of different patients and scanners. No up-down flips, which
    # would put the skull base, where pituitary tumours sit, at the top.
    augment: bool = True

    # ---- The "future enhancement": EfficientNetB0 from keras.applications with a new classification head ----

    # Also train EfficientNetB0 and compare it with the CNN.
    transfer: bool = True
    # "imagenet" downloads the pretrained weights (needs internet; without them the row is skipped, and the report
    # says so); "random" trains it from random weights, for comparison only (then it is not transfer learning).
    transfer_weights: str = "imagenet"
    # EfficientNetB0's epochs.
    transfer_epochs: int = 10
    # EfficientNetB0's learning rate (small: the pretrained filters should move little).
    transfer_learning_rate: float = 1e-4

    # Grad-CAM overlays per class in the report.
    gradcam_per_class: int = 3
    # Misclassified test images shown in the report.
    num_misclassified_shown: int = 24

    def validate(self):
        super().validate()
        if self.channels not in (1, 3):
            raise ConfigError("--channels must be 1 (grey) or 3 (RGB).")
        if self.image_size < 32 or self.image_size % 2 ** len(self.filters):
            raise ConfigError(f"--image-size must be at least 32 and divisible by 2^{len(self.filters)} "
                              f"(one halving per conv block), not {self.image_size}.")
        if not 0.0 < self.validation_fraction < 0.5:
            raise ConfigError("--validation-fraction must lie between 0 and 0.5 (e.g. 0.15).")
        if self.transfer_weights not in ("imagenet", "random"):
            raise ConfigError("--transfer-weights must be imagenet or random.")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ConfigError("--dropout-rate must lie in [0, 1).")
        if self.learning_rate <= 0 or self.transfer_learning_rate <= 0:
            raise ConfigError("Learning rates must be positive.")
        self.require_at_least("epochs", "transfer_epochs", "batch_size", "patience")
        if not self.filters or min(self.filters) < 1:
            raise ConfigError("--filters needs positive filter counts, e.g. 16,32,64,128,256.")


# --smoke: synthetic slices at 64 px, a narrow network, two epochs each; well under a minute.
SMOKE = {
    "dataset": "sample",
    "image_size": 64,
    "filters": (8, 16, 32),
    "batch_size": 16,
    "epochs": 2,
    "patience": 2,
    "transfer_weights": "random",
    "transfer_epochs": 1,
    "gradcam_per_class": 2,
}
