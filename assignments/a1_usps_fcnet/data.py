"""Assignment 1's data: USPS (or its stand-in sample digits) with a validation split carved from training.

Images are float32 (N, 16, 16, 1) in [0, 1] (0 = background), labels int64 (N,) in 0..9. The official
7,291 / 2,007 train / test split is kept; ``validation_fraction`` of every digit class of the training split is
held out for tuning and early stopping, so the test split plays no part in any choice.
"""

import dataclasses

import numpy as np

from common.datasets.samples import ensure_samples
from common.datasets.splits import stratified_split
from common.datasets.usps import load_usps

CLASS_NAMES = [str(digit) for digit in range(10)]


@dataclasses.dataclass
class DigitSplits:
    """Train / validation / test digits and where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    title: str  # what the data is, for the report
    files: dict  # file name -> {"path", "md5"}
    sample: dict | None  # the sample-data manifest, or None for real USPS

    @property
    def dataset(self):
        """The name result rows carry."""
        return "usps-sample-stand-in" if self.sample else "usps"

    @property
    def input_shape(self):
        return self.x_train.shape[1:]


def load_digits(config):
    """USPS from ``config.data_dir`` (``--dataset usps``, downloaded when missing), the stand-in digits
    (``--dataset sample``) or the user's folder of USPS files (``--data PATH``), split into train / validation /
    test.

    Raises:
        DataError: a missing file that cannot be downloaded, a wrong checksum or a malformed file.
    """
    data_dir = ensure_samples("usps") if config.dataset == "sample" and not config.data else config.data_dir
    usps = load_usps(data_dir, data_format=config.data_format, folder=config.data or None)
    keep, held_out = stratified_split(usps.y_train, config.validation_fraction, seed=config.seed)
    return DigitSplits(usps.x_train[keep], usps.y_train[keep], usps.x_train[held_out], usps.y_train[held_out],
                       usps.x_test, usps.y_test, usps.title, usps.files, usps.sample)
