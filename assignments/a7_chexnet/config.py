"""Assignment 7's hyper-parameters: one dataclass, every default commented, every field a CLI flag."""

import dataclasses

from common.config import ConfigError, RunConfig, old_dataset_spellings

# The folder name, so that a copy of this folder under a new name writes its own runs.
ASSIGNMENT = __package__.rsplit(".", 1)[-1]
WEIGHTS = ("imagenet", "random")


@dataclasses.dataclass
class A7Config(RunConfig):
    """Settings of one assignment-7 run (the shared ones are documented on RunConfig)."""

    DATASETS = ("pneumoniamnist", "sample")
    # --data NAME is a folder here: a data set's name given to it is refused with the right flag.
    LEGACY = old_dataset_spellings(DATASETS)

    # The data set: pneumoniamnist (the official MedMNIST file in DATA_DIR/medmnist, downloaded with its MD5 when
    # missing) or sample (a synthetic file in the same format, for demos and tests; not results).
    dataset: str = "pneumoniamnist"
    # Your own PneumoniaMNIST-format .npz file instead ({train,val,test}_{images,labels}, uint8 images of
    # (N, S, S), labels (N,) or (N, 1)): checked for its layout, not for the official MD5. Empty: the --dataset.
    npz: str = ""
    # Or the Kermany et al. 2018 chest X-ray folders: PATH/train/{NORMAL,PNEUMONIA}/*.jpeg, with val/ (pooled with
    # train) and test/ alike where there are, read grey at --size px; validation, and test where there is no test/,
    # are carved from train by patient. Empty: the --dataset.
    data: str = ""
    # Image side of the data: 28, 64, 128 or 224 for the official PneumoniaMNIST files, the side the Kermany
    # folders are resized to. A --npz file has its own.
    size: int = 28
    # Share of the Kermany training patients held out for validation (the official val/ has 16 images).
    validation_fraction: float = 0.15
    # Share of the Kermany training patients held out as the test split, where the folder has no test/.
    test_fraction: float = 0.15

    # ---- CheXNet: DenseNet-121 ----

    # The side DenseNet-121 sees, the images upsampled inside the model. Five halvings leave size / 32 cells per
    # side for the heat maps: 64 px gives 2 x 2 at about 2.5 min an epoch on 2 CPU cores; the paper's 224 px (7 x 7)
    # is a GPU's job.
    input_size: int = 64
    # imagenet: start from the ImageNet weights (needs internet once; without it the run falls back to random
    # initialisation and the report says so); random: train from random weights.
    densenet_weights: str = "imagenet"
    # DenseNet-121's epochs (upper bound; early stopping on validation AUC ends sooner). On the reduced
    # PneumoniaMNIST file the validation AUC levelled off by the sixth (2026-12-07).
    epochs: int = 7
    # Adam's learning rate (CheXNet's 0.001); divided by 10 whenever the validation loss stops improving.
    learning_rate: float = 1e-3
    # Epochs without a lower validation loss before the learning rate is divided by 10 (CheXNet: 1).
    lr_patience: int = 1
    # Epochs without a better validation AUC before training stops; the best epoch's weights are kept.
    patience: int = 4
    # Training batch size (CheXNet's 16 at 224 px; 32 at 64 px).
    batch_size: int = 32
    # Dropout before the sigmoid (CheXNet has none).
    dropout_rate: float = 0.0

    # ---- Both models ----

    # Random horizontal flips (as CheXNet), shifts, rotations and zooms of up to --shift, and contrast and
    # brightness changes of up to --contrast.
    augment: bool = True
    # The largest shift and zoom, a share of the image side; 0: flips only, as the paper. At 28 px 0.1 cost the
    # compact DenseNet 0.010 validation AUC (0.9827 against 0.9931), so flips only is the default.
    shift: float = 0.0
    # The largest contrast change, a share (brightness: half of it); 0: none.
    contrast: float = 0.0

    # ---- The compact baseline: a small DenseNet-BC of the student's dense blocks, at the data's own size ----

    # Train the compact baseline too, so that the report can say what depth buys at this data size.
    baseline: bool = True
    # Layers per dense block of the baseline. Concatenations at the full 28 px cost a CPU more than their
    # arithmetic: (6, 12, 8) took 113 s an epoch on 2 cores, about DenseNet-121's at 64 px.
    baseline_blocks: tuple[int, ...] = (3, 6, 4)
    # Channels each of its layers adds.
    baseline_growth_rate: int = 12
    # The baseline's epochs (upper bound).
    baseline_epochs: int = 10

    # ---- Report ----

    # Bootstrap resamples of the test set for the 95% interval of the test AUC.
    bootstrap_samples: int = 1000
    # Test images per outcome (true and false positives and negatives) in the CAM and Grad-CAM figure.
    heatmap_cases: int = 2

    def validate(self):
        super().validate()
        if self.npz and self.data:
            raise ConfigError("Give either --npz (a PneumoniaMNIST-format file) or --data (the Kermany folders), not "
                              "both.")
        if self.size not in (28, 64, 128, 224) and not self.data:
            raise ConfigError(f"--size must be 28, 64, 128 or 224 (the official PneumoniaMNIST sizes), not "
                              f"{self.size}.")
        if self.size < 16:
            raise ConfigError(f"--size must be at least 16 px, not {self.size}.")
        if self.input_size < 32:
            raise ConfigError(f"--input-size must be at least 32 (DenseNet-121's smallest input), not "
                              f"{self.input_size}.")
        if self.densenet_weights not in WEIGHTS:
            raise ConfigError(f"--densenet-weights must be imagenet or random, not {self.densenet_weights!r}.")
        for name in ("validation_fraction", "test_fraction"):
            if not 0.0 < getattr(self, name) <= 0.5:
                raise ConfigError(f"--{name.replace('_', '-')} must lie in (0, 0.5] (e.g. 0.15).")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ConfigError("--dropout-rate must lie in [0, 1).")
        if not 0.0 <= self.contrast < 1.0:
            raise ConfigError("--contrast must lie in [0, 1) (a share; 0.2 is up to 20%).")
        if not 0.0 <= self.shift < 0.5:
            raise ConfigError("--shift must lie in [0, 0.5) (a share of the image side; 0.1 is 10%).")
        if self.learning_rate <= 0:
            raise ConfigError("--learning-rate must be positive.")
        self.require_at_least("epochs", "baseline_epochs", "batch_size", "patience", "lr_patience",
                              "baseline_growth_rate", "bootstrap_samples", "heatmap_cases")
        if not self.baseline_blocks or min(self.baseline_blocks) < 1:
            raise ConfigError("--baseline-blocks needs positive layer counts, e.g. 3,6,4.")
        if self.size // 2 ** (len(self.baseline_blocks) - 1) < 2:
            raise ConfigError(f"--baseline-blocks: {len(self.baseline_blocks)} blocks halve {self.size} px below 2; "
                              "use fewer blocks.")


# --smoke: the synthetic file, DenseNet-121 at its smallest input and a two-block baseline, an epoch or two each.
SMOKE = {
    "dataset": "sample",
    "input_size": 32,
    "densenet_weights": "random",
    "epochs": 1,
    "batch_size": 16,
    "baseline_blocks": (2, 2),
    "baseline_growth_rate": 4,
    "baseline_epochs": 2,
    "bootstrap_samples": 100,
    "heatmap_cases": 1,
}
