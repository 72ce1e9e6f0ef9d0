"""Assignment 4's hyper-parameters: one dataclass, every default commented, every field a CLI flag."""

import dataclasses

from common.config import ConfigError, RunConfig, default_data_dir, default_runs_dir, old_dataset_spellings

# The folder name, so that a copy of this folder under a new name writes its own runs.
ASSIGNMENT = __package__.rsplit(".", 1)[-1]

PROBLEMS = (1, 2, 3)
MONITORS = ("val_auc", "val_loss")
DATASETS = ("medmnist", "sample")


def _old_augment_spellings():
    """``--augment both|on|off`` and ``--cnn3d-augment ...``, which are two switches each now."""
    settings = {"both": (True, True), "on": (True, False), "off": (False, False)}
    spellings = {}
    for prefix in ("", "cnn3d_"):
        flag = "--" + prefix.replace("_", "-")
        for old, (augment, compare) in settings.items():
            words = ([] if augment else [f"--no-{flag[2:]}augment"]) + ([f"{flag}augment"] if augment and not compare
                                                                        else []) + (
                [f"{flag}compare-augmentation"] if compare else [f"--no-{flag[2:]}compare-augmentation"])
            spellings[(prefix + "augment", old)] = ({prefix + "augment": augment,
                                                     prefix + "compare_augmentation": compare}, " ".join(words))
    return spellings


OLD_AUGMENT_SPELLINGS = _old_augment_spellings()


@dataclasses.dataclass
class A4Config(RunConfig):
    """Settings of one assignment-4 run (the shared ones are documented on RunConfig)."""

    DATASETS = DATASETS
    LEGACY = {**old_dataset_spellings(DATASETS, real="medmnist"), **OLD_AUGMENT_SPELLINGS}

    # The data set: medmnist (the official MedMNIST files in DATA_DIR/medmnist, downloaded with their MD5s when
    # missing) or sample (synthetic files in the official format, for demos and tests; not results).
    dataset: str = "medmnist"
    # Your own copy of the MedMNIST files instead: a folder holding the .npz files (e.g. adrenalmnist3d.npz,
    # retinamnist.npz), read and MD5-checked as downloaded. Empty: the --dataset.
    data: str = ""
    # Which problems to run: 1 = 3D CNN, 2 = custom CNN / VGG16 / Grad-CAM / quantization, 3 = ResNet.
    problems: tuple[int, ...] = PROBLEMS

    # ---- Problem 1: a 3D CNN from scratch on a MedMNIST 3D set (binary task) ----

    # The 3D set: adrenalmnist3d or nodulemnist3d (any MedMNIST 3D flag works).
    volume_dataset: str = "adrenalmnist3d"
    # Voxels per side of the 3D set: 28 or 64.
    volume_size: int = 28
    # Filters of the 3D CNN's stages; each stage ends in a 2x2x2 max-pool.
    cnn3d_filters: tuple[int, ...] = (16, 32, 64)
    # 3x3x3 convolutions (+ batch norm + ReLU) per stage. One costs a fifth of two at 28^3 (about 10 s an epoch
    # on 2 CPU cores).
    cnn3d_convs_per_stage: int = 1
    # Width of the dense ReLU layer of the 3D CNN's head (flatten, dense, dropout, softmax over two classes).
    cnn3d_dense_units: int = 128
    # Dropout rate of the 3D CNN's head.
    cnn3d_dropout_rate: float = 0.5
    # Upper bound on the 3D CNN's epochs: early stopping on the validation metric ends training sooner.
    cnn3d_epochs: int = 100
    # Stop the 3D CNN after this many epochs without a better validation metric.
    cnn3d_patience: int = 20
    # The 3D CNN's batch size.
    cnn3d_batch_size: int = 32
    # The 3D CNN's Adam learning rate.
    cnn3d_learning_rate: float = 1e-3
    # Early stopping and checkpoint choice for the 3D CNN: validation AUC, or validation loss.
    cnn3d_monitor: str = "val_auc"
    # Halve the 3D CNN's learning rate after this many epochs without improvement; 0 keeps it constant.
    cnn3d_reduce_lr_patience: int = 0
    # Train the 3D CNN on augmented volumes (the settings below).
    cnn3d_augment: bool = True
    # Train the 3D CNN both with and without augmentation, compare the two in one table and keep the better on
    # validation; --no-cnn3d-compare-augmentation trains only the variant --cnn3d-augment names.
    cnn3d_compare_augmentation: bool = True
    # 3D augmentation: flips along these voxel axes of (D, H, W) (2 = left-right).
    cnn3d_flip_axes: tuple[int, ...] = (2,)
    # 3D augmentation: in-plane rotations of up to this many degrees.
    cnn3d_max_rotation: float = 10.0
    # 3D augmentation: shifts of up to this many voxels.
    cnn3d_max_shift: int = 2

    # ---- Problems 2 and 3: 2D images ----

    # The 2D set: retinamnist (ordinal, scored as multi-class) or chestmnist (multi-label); any MedMNIST 2D flag.
    image_dataset: str = "retinamnist"
    # Pixels per side of the 2D set: 28, 64, 128 or 224.
    image_size: int = 28
    # Upper bound on the epochs of the custom CNN (P2-A) and the ResNet (P3).
    epochs: int = 80
    # Stop the custom CNN and the ResNet after this many epochs without a better validation metric.
    patience: int = 15
    # Halve the custom CNN's and the ResNet's learning rate after this many epochs without improvement.
    reduce_lr_patience: int = 5
    # Batch size of the custom CNN, the VGG16 rows and the ResNet.
    batch_size: int = 64
    # Adam learning rate of the custom CNN and the ResNet.
    learning_rate: float = 1e-3
    # The validation metric that keeps the best checkpoint of the 2D models: val_loss or val_auc. Loss, because on
    # RetinaMNIST's 120 validation images the AUC jumps from epoch to epoch.
    monitor: str = "val_loss"
    # Train the 2D models on augmented images (the settings below, and mixup).
    augment: bool = True
    # Train the custom CNN (P2-A) both with and without augmentation, compare them and keep the better on
    # validation; --no-compare-augmentation trains only the variant --augment names.
    compare_augmentation: bool = True
    # 2D augmentation: flips along these axes of (H, W) (1 = left-right).
    flip_axes: tuple[int, ...] = (0, 1)
    # 2D augmentation: rotations of up to this many degrees.
    max_rotation: float = 15.0
    # 2D augmentation: scaling by up to plus or minus this share.
    max_zoom: float = 0.1
    # Mixup on the augmented 2D batches: each image and its label blended with another of the batch, with a
    # share drawn from Beta(a, a). The best single change in trials on RetinaMNIST; 0 turns it off.
    mixup_alpha: float = 0.3
    # Multi-label sets only: weight each label's positive term by its negatives / positives on the training
    # split (Keras's class_weight does not apply to multi-label outputs).
    positive_weights: bool = True

    # ---- P2-A: the deeper custom CNN (common.models.custom_cnn) ----

    # Filters per block of the custom CNN; each block is two conv + BN + ReLU layers, then a max-pool.
    cnn_filters: tuple[int, ...] = (32, 64, 128)
    # Width of the custom CNN's dense layer.
    cnn_dense_units: int = 256
    # Dropout rate of the custom CNN's head.
    cnn_dropout_rate: float = 0.4

    # ---- P2-B: VGG16 transfer learning, frozen backbone against its last block fine-tuned ----

    # Train the two VGG16 rows.
    vgg: bool = True
    # "imagenet" downloads the weights (needs internet; without them the VGG16 rows are skipped, and the report
    # says so); "random" trains them from random weights, for comparison only (then they are not transfer learning).
    vgg_weights: str = "imagenet"
    # VGG16's input size: images are upsampled inside the model; VGG16 needs at least 32 px.
    vgg_image_size: int = 64
    # Upper bound on each VGG16 row's epochs.
    vgg_epochs: int = 10
    # Stop a VGG16 row after this many epochs without a better validation metric.
    vgg_patience: int = 4
    # Learning rate of the new head, backbone frozen.
    vgg_learning_rate: float = 1e-3
    # Learning rate of head + block 5 when fine-tuned: small steps keep the pretrained filters.
    vgg_fine_tune_learning_rate: float = 1e-4
    # Width of the dense layer of VGG16's new head.
    vgg_dense_units: int = 256

    # P2-C: Grad-CAM overlays per class (test images of that class, explained for that class).
    gradcam_per_class: int = 4

    # ---- P2-D: quantization of the chosen custom CNN; every variant is scored with LiteRT on the whole test split

    # Convert the chosen custom CNN to LiteRT (float32, dynamic range, float16, full int8) and score each.
    quantize: bool = True
    # Also train a quantization-aware copy (tfmot, in a child process) and convert it to int8.
    qat: bool = True
    # Epochs of quantization-aware training.
    qat_epochs: int = 2
    # Learning rate of quantization-aware training.
    qat_learning_rate: float = 1e-5
    # Training images that calibrate the full-int8 activation ranges.
    representative_count: int = 300
    # Rounds of single-image timings, every variant once per round in turn; the median and spread are reported.
    latency_repeats: int = 300

    # ---- Problem 3: a ResNet from scratch with a small-input stem (3x3, stride 1, no max-pool) ----

    # Basic blocks per stage of the ResNet; every stage after the first halves the image.
    resnet_blocks: tuple[int, ...] = (2, 2, 2)
    # Filters per stage of the ResNet.
    resnet_filters: tuple[int, ...] = (32, 64, 128)
    # Dropout rate of the ResNet's head.
    resnet_dropout_rate: float = 0.3

    def augmentation_3d(self):
        """Keyword arguments of ``common.augment.augmented_dataset`` for problem 1's volumes."""
        return {"flip_axes": tuple(self.cnn3d_flip_axes), "max_shift": self.cnn3d_max_shift,
                "max_rotation": self.cnn3d_max_rotation}

    def augmentation_2d(self):
        """Keyword arguments of ``augmented_dataset`` for the 2D images, and ``mixup_alpha``."""
        return {"flip_axes": tuple(self.flip_axes), "max_rotation": self.max_rotation, "max_zoom": self.max_zoom,
                "mixup_alpha": self.mixup_alpha}

    def validate(self):
        super().validate()
        from common.datasets.medmnist_info import medmnist_facts

        unknown = [number for number in self.problems if number not in PROBLEMS]
        if unknown or not self.problems:
            raise ConfigError(f"--problems takes one or more of 1, 2, 3 (e.g. --problems 1,3); got "
                              f"{','.join(map(str, self.problems)) or 'none'}.")
        for flag_name, size_name, dimensions in (("volume_dataset", "volume_size", 3),
                                                 ("image_dataset", "image_size", 2)):
            flag, size = getattr(self, flag_name), getattr(self, size_name)
            try:
                facts = medmnist_facts(flag)
            except ValueError as error:
                raise ConfigError(f"{_flag(flag_name)}: {error}") from None
            if facts.dimensions != dimensions:
                example = "adrenalmnist3d or nodulemnist3d" if dimensions == 3 else "retinamnist or chestmnist"
                raise ConfigError(f"{_flag(flag_name)} needs a {dimensions}D MedMNIST set (e.g. {example}); "
                                  f"{flag} is {facts.dimensions}D.")
            if size not in facts.sizes:
                raise ConfigError(f"{_flag(size_name)} {size}: {facts.python_class} is published at "
                                  f"{', '.join(map(str, facts.sizes))} px only; pick one of those.")
        for name in ("monitor", "cnn3d_monitor"):
            if getattr(self, name) not in MONITORS:
                raise ConfigError(f"{_flag(name)} must be val_auc or val_loss, not {getattr(self, name)!r}.")
        if self.vgg_weights not in ("imagenet", "random"):
            raise ConfigError("--vgg-weights must be imagenet or random.")
        if self.vgg_image_size < 32:
            raise ConfigError(f"--vgg-image-size must be at least 32 (VGG16 pools five times), not "
                              f"{self.vgg_image_size}.")
        if len(self.resnet_blocks) != len(self.resnet_filters):
            raise ConfigError("--resnet-blocks and --resnet-filters need the same number of stages.")
        if self.image_size < 2 ** len(self.cnn_filters):
            raise ConfigError(f"--image-size {self.image_size} is too small for {len(self.cnn_filters)} pooling "
                              f"blocks of --cnn-filters (at least {2 ** len(self.cnn_filters)}).")
        if self.volume_size < 2 ** len(self.cnn3d_filters):
            raise ConfigError(f"--volume-size {self.volume_size} is too small for {len(self.cnn3d_filters)} "
                              "pooling stages of --cnn3d-filters.")
        if any(axis not in (0, 1, 2) for axis in self.cnn3d_flip_axes):
            raise ConfigError("--cnn3d-flip-axes are axes of (D, H, W): 0, 1 or 2.")
        if any(axis not in (0, 1) for axis in self.flip_axes):
            raise ConfigError("--flip-axes are axes of (H, W): 0 (up-down) or 1 (left-right).")
        for name in ("cnn3d_dropout_rate", "cnn_dropout_rate", "resnet_dropout_rate"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"--{name.replace('_', '-')} must lie in [0, 1).")
        if not 0.0 <= self.max_zoom < 1.0 or self.max_rotation < 0 or self.cnn3d_max_rotation < 0:
            raise ConfigError("--max-zoom must lie in [0, 1) and rotations must not be negative.")
        if self.mixup_alpha < 0:
            raise ConfigError("--mixup-alpha must be 0 (off) or positive, e.g. 0.3.")
        for name in ("cnn3d_learning_rate", "learning_rate", "vgg_learning_rate", "vgg_fine_tune_learning_rate",
                     "qat_learning_rate"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be positive.")
        for name in ("cnn3d_filters", "cnn_filters", "resnet_filters", "resnet_blocks"):
            if not getattr(self, name) or min(getattr(self, name)) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} needs positive integers, e.g. 16,32,64.")
        self.require_at_least("cnn3d_epochs", "cnn3d_patience", "cnn3d_batch_size", "cnn3d_convs_per_stage",
                              "cnn3d_dense_units", "epochs", "patience", "reduce_lr_patience", "batch_size",
                              "cnn_dense_units", "vgg_epochs", "vgg_patience", "vgg_dense_units", "qat_epochs",
                              "representative_count", "latency_repeats")
        self.require_at_least("gradcam_per_class", "cnn3d_max_shift", "cnn3d_reduce_lr_patience", minimum=0)


# --smoke: the synthetic sample files, tiny networks, one or two epochs each, VGG16 at its smallest input
# (32 px) with random weights, one QAT epoch; well under a minute of training.
def _flag(name):
    return "--" + name.replace("_", "-")


SMOKE = {
    "dataset": "sample",
    "cnn3d_filters": (4, 8),
    "cnn3d_convs_per_stage": 1,
    "cnn3d_dense_units": 16,
    "cnn3d_epochs": 2,
    "cnn3d_patience": 2,
    "cnn3d_batch_size": 16,
    "epochs": 2,
    "patience": 2,
    "reduce_lr_patience": 1,
    "batch_size": 32,
    "cnn_filters": (8, 16),
    "cnn_dense_units": 16,
    "vgg_weights": "random",
    "vgg_image_size": 32,
    "vgg_epochs": 1,
    "vgg_patience": 1,
    "vgg_dense_units": 16,
    "gradcam_per_class": 2,
    "qat_epochs": 1,
    "representative_count": 20,
    "latency_repeats": 20,
    "resnet_blocks": (1, 1),
    "resnet_filters": (8, 16),
}


@dataclasses.dataclass
class TrialsConfig:
    """Settings of the RetinaMNIST trials study (``python -m assignments.a4_medmnist.trials``)."""

    # Where the data sets live (medmnist/retinamnist.npz), as for the assignment itself.
    data_dir: str = dataclasses.field(default_factory=default_data_dir)
    # Parent folder of the run folders; the study writes runs/a4_medmnist_trials/<timestamp>/.
    runs_dir: str = dataclasses.field(default_factory=default_runs_dir)
    # The data set: medmnist (the official RetinaMNIST file) or sample (the synthetic one; quick checks, not results).
    dataset: str = "medmnist"
    # The training settings to run, by name (--list prints them); empty: every setting.
    settings: tuple[str, ...] = ()
    # Every setting is trained once per seed; the spread over seeds is what the study measures.
    seeds: tuple[int, ...] = (1, 2)
    # Trials run side by side, each in its own process with one TensorFlow thread.
    jobs: int = 2
    # Train every setting for this many epochs instead of its own (0: its own); for quick checks.
    epochs: int = 0
    # Print the settings and what each changes, then stop.
    list: bool = False

    def validate(self):
        if self.dataset not in DATASETS:
            raise ConfigError(f"--dataset must be medmnist or sample, not {self.dataset!r}.")
        if self.jobs < 1 or self.epochs < 0 or not self.seeds:
            raise ConfigError("--jobs must be at least 1, --epochs at least 0 (its own), and --seeds not empty.")

    def to_dict(self):
        return dataclasses.asdict(self)
