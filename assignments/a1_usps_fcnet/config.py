"""Assignment 1's hyper-parameters: one dataclass, every default commented, every field a CLI flag."""

import dataclasses

from common.config import ConfigError, RunConfig, old_dataset_spellings

# The folder name, so that a copy of this folder under a new name writes its own runs.
ASSIGNMENT = __package__.rsplit(".", 1)[-1]


def parse_hidden_units(text):
    """"512x256" -> (512, 256): the widths of the two hidden layers."""
    try:
        widths = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        widths = ()
    if len(widths) != 2 or min(widths) < 1:
        raise ConfigError(f"Hidden-layer widths must look like 512x256 (two positive integers), not {text!r}.")
    return widths


@dataclasses.dataclass
class A1Config(RunConfig):
    """Settings of one assignment-1 run (the shared ones are documented on RunConfig)."""

    DATASETS = ("usps", "sample")
    LEGACY = old_dataset_spellings(DATASETS, real="usps")

    # The data set: usps (DATA_DIR/usps, downloaded with its MD5s when missing) or sample (stand-in digits made
    # offline, for demos and tests; not results).
    dataset: str = "usps"
    # Your own copy of USPS instead: a folder holding zip.train.gz and zip.test.gz (or usps.h5 with
    # --data-format h5). Empty: the --dataset.
    data: str = ""
    # Which USPS form to read: "esl" (zip.train.gz + zip.test.gz, downloadable) or "h5" (usps.h5).
    data_format: str = "esl"
    # Share of each digit class held out from the training split for tuning and early stopping.
    validation_fraction: float = 0.1
    # Random small shifts (up to 1 pixel) and rotations (up to ~11 degrees) of training images. Digits in
    # USPS are size-normalised but not perfectly centred, so this is the cheapest regulariser that helps.
    augment: bool = True

    # ---- The fully-connected network's search: num_trials settings drawn from this grid ----

    # Widths of the two hidden layers to try, each written as FIRSTxSECOND.
    hidden_units_options: tuple[str, ...] = ("256x128", "512x256", "1024x512")
    # Dropout rates to try (after each hidden layer).
    dropout_options: tuple[float, ...] = (0.2, 0.3, 0.4)
    # Adam learning rates to try.
    learning_rate_options: tuple[float, ...] = (5e-4, 1e-3, 2e-3)
    # Batch sizes to try.
    batch_size_options: tuple[int, ...] = (64, 128)
    # How many settings of the grid are drawn and trained; the best on validation accuracy is kept.
    num_trials: int = 6
    # Upper bound on epochs per trial; early stopping on validation accuracy ends most trials sooner.
    epochs: int = 60
    # Early stopping (FC trials and the CNN): stop after this many epochs without a better validation accuracy.
    patience: int = 10
    # Halve the learning rate after this many epochs without a better validation accuracy (0: never).
    reduce_lr_patience: int = 5

    # ---- The comparison CNN, trained by the same trainer on the same splits ----

    # Also train the small comparison CNN (two conv blocks) and put it beside the FC net in the report.
    cnn: bool = True
    # The CNN's filters, one conv block each.
    cnn_filters: tuple[int, ...] = (32, 64)
    # The CNN's dropout rate.
    cnn_dropout: float = 0.4
    # The CNN's Adam learning rate.
    cnn_learning_rate: float = 1e-3
    # The CNN's batch size.
    cnn_batch_size: int = 64
    # Upper bound on the CNN's epochs (early stopping as for the FC trials).
    cnn_epochs: int = 30

    # Timed inference calls per latency measurement (the median is reported).
    latency_repeats: int = 100
    # How many misclassified test digits the report shows.
    num_misclassified_shown: int = 32

    def validate(self):
        super().validate()
        if self.data_format not in ("esl", "h5"):
            raise ConfigError(f"--data-format must be esl or h5, not {self.data_format!r}.")
        if not 0.0 < self.validation_fraction < 0.5:
            raise ConfigError("--validation-fraction must lie between 0 and 0.5 (e.g. 0.1).")
        for text in self.hidden_units_options:
            parse_hidden_units(text)
        if any(not 0.0 <= rate < 1.0 for rate in (*self.dropout_options, self.cnn_dropout)):
            raise ConfigError("Dropout rates must lie in [0, 1).")
        if any(rate <= 0 for rate in (*self.learning_rate_options, self.cnn_learning_rate)):
            raise ConfigError("Learning rates must be positive.")
        if any(size < 1 for size in (*self.batch_size_options, self.cnn_batch_size)):
            raise ConfigError("Batch sizes must be positive.")
        self.require_at_least("num_trials", "epochs", "cnn_epochs", "patience", "latency_repeats")
        if not self.cnn_filters or min(self.cnn_filters) < 1:
            raise ConfigError("--cnn-filters needs positive filter counts, e.g. 32,64.")

    def search_space(self):
        """The tuning grid as {hyper-parameter: options}."""
        # TODO: the search space the tuner samples: a dict with the keys "hidden_units" (each entry of
        #       self.hidden_units_options parsed with parse_hidden_units, as a tuple), "dropout_rate",
        #       "learning_rate" and "batch_size" (self.dropout_options, self.learning_rate_options,
        #       self.batch_size_options).
        # BEGIN SOLUTION
        return {
            "hidden_units": tuple(parse_hidden_units(text) for text in self.hidden_units_options),
            "dropout_rate": self.dropout_options,
            "learning_rate": self.learning_rate_options,
            "batch_size": self.batch_size_options,
        }
        # END SOLUTION


# --smoke: stand-in sample digits, two tiny trials, a couple of epochs; finishes in well under a minute.
SMOKE = {
    "dataset": "sample",
    "hidden_units_options": ("64x32", "128x64"),
    "dropout_options": (0.2,),
    "learning_rate_options": (2e-3,),
    "batch_size_options": (64,),
    "num_trials": 2,
    "epochs": 3,
    "patience": 2,
    "reduce_lr_patience": 0,
    "cnn_filters": (8, 16),
    "cnn_epochs": 2,
    "latency_repeats": 10,
}
