"""USPS handwritten digits: readers for both public file forms and one loader for the assignments.

Two forms of the same 9,298 digits (7,291 train / 2,007 test, 16x16 grey) circulate:

- the ESL book's text files ``zip.train.gz`` / ``zip.test.gz``: one digit per line, the label followed
  by 256 grey values in [-1, 1] (-1 is background);
- the HDF5 file ``usps.h5`` with datasets ``train/data`` (N, 256) in [0, 1] and ``train/target`` (N,),
  and the same under ``test/``.

Both are returned the same way: images as float32 of shape (N, 16, 16, 1) in [0, 1] (0 = background)
and labels as int64 of shape (N,) in 0..9.
"""

import dataclasses
import gzip
import zlib
from pathlib import Path

import numpy as np

from common.datasets.download import fetch_file
from common.datasets.files import DataError, md5sum, read_sample_manifest
from common.datasets.registry import REGISTRY

IMAGE_SIDE = 16
PIXELS = IMAGE_SIDE * IMAGE_SIDE
FORMATS = ("esl", "h5")


@dataclasses.dataclass
class UspsData:
    """USPS images and labels with where they came from.

    x_train: float32 array of shape (N_train, 16, 16, 1), values in [0, 1].
    y_train: int64 array of shape (N_train,), values 0..9. Likewise x_test, y_test.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    files: dict  # file name -> {"path": ..., "md5": ...}
    title: str
    sample: dict | None = None  # the sample-data manifest when these are not the real USPS files

    @property
    def is_sample(self):
        return self.sample is not None


def _check_values(path, images, labels, low, high):
    if labels.size and (labels.min() < 0 or labels.max() > 9 or np.any(labels != np.round(labels))):
        bad = labels[(labels < 0) | (labels > 9) | (labels != np.round(labels))][0]
        raise DataError(f"{path} contains the label {bad!r}; USPS labels are the digits 0-9. The file is not "
                        "a USPS file: replace it with the official one.")
    if images.size and (images.min() < low - 1e-6 or images.max() > high + 1e-6):
        raise DataError(f"{path} has grey values in [{images.min():.3g}, {images.max():.3g}], outside the "
                        f"expected [{low}, {high}]. The file is not in the expected USPS form: replace it "
                        "with the official one.")


def read_usps_text(path):
    """Read one ESL-form USPS file (gzipped or plain text).

    Returns:
        (images, labels): float32 (N, 16, 16, 1) in [0, 1] and int64 (N,).

    Raises:
        DataError: the file is truncated, not gzip/text, or has a line that is not a label plus 256 values.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    try:
        with opener(path, "rt", encoding="ascii") as handle:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    values = np.array(line.split(), dtype=np.float64)
                except ValueError:
                    raise DataError(f"{path}, line {line_number}: not a list of numbers. An ESL USPS file has "
                                    "one digit per line: the label, then 256 grey values.") from None
                if values.size != PIXELS + 1:
                    raise DataError(f"{path}, line {line_number}: {values.size} numbers instead of 257 (a label "
                                    "plus 16x16 grey values). The file is truncated or not a USPS file: "
                                    "replace it with the official one.")
                rows.append(values)
    except (EOFError, gzip.BadGzipFile, zlib.error, UnicodeDecodeError, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise DataError(f"{path} does not exist.") from None
        raise DataError(f"{path} cannot be read as a gzipped USPS text file ({error}); it is probably "
                        "truncated or corrupt. Move it aside and download it again.") from None
    if not rows:
        raise DataError(f"{path} holds no digits. Replace it with the official file.")
    table = np.stack(rows)
    labels = table[:, 0]
    images = table[:, 1:]
    _check_values(path, images, labels, -1.0, 1.0)
    images = ((images + 1.0) / 2.0).astype(np.float32).reshape(-1, IMAGE_SIDE, IMAGE_SIDE, 1)
    return images, labels.astype(np.int64)


def read_usps_h5(path):
    """Read ``usps.h5``.

    Returns:
        dict split -> (images, labels) for "train" and "test": float32 (N, 16, 16, 1) in [0, 1], int64 (N,).
    """
    import h5py

    path = Path(path)
    splits = {}
    try:
        with h5py.File(path, "r") as handle:
            for split in ("train", "test"):
                for key in ("data", "target"):
                    if f"{split}/{key}" not in handle:
                        raise DataError(f"{path} has no dataset '{split}/{key}'. A USPS HDF5 file holds "
                                        "train/data, train/target, test/data and test/target.")
                data = np.asarray(handle[f"{split}/data"], dtype=np.float64)
                target = np.asarray(handle[f"{split}/target"])
                if data.ndim != 2 or data.shape[1] != PIXELS or target.shape != (data.shape[0],):
                    raise DataError(f"{path}: '{split}/data' has shape {data.shape} and '{split}/target' "
                                    f"{target.shape}; expected (N, 256) and (N,). Replace the file with the "
                                    "official one.")
                _check_values(path, data, target.astype(np.float64), 0.0, 1.0)
                splits[split] = (data.astype(np.float32).reshape(-1, IMAGE_SIDE, IMAGE_SIDE, 1),
                                 target.astype(np.int64))
    except OSError as error:
        raise DataError(f"{path} cannot be read as HDF5 ({error}); it is probably truncated or corrupt. "
                        "Move it aside and obtain it again.") from None
    return splits


def load_usps(data_dir, data_format="esl", download=True, folder=None):
    """Load USPS from ``data_dir/usps/`` (or ``folder``), downloading the ESL files if they are missing.

    Args:
        data_dir: the data root (``DATA_DIR``), holding ``usps/``.
        data_format: "esl" (``zip.train.gz`` + ``zip.test.gz``) or "h5" (``usps.h5``, placed by hand).
        download: allow downloading missing files.
        folder: a folder of the USPS files to read instead of ``data_dir/usps/`` (nothing is downloaded into it).

    Returns:
        A ``UspsData``; ``is_sample`` is True when the folder holds the stand-in sample data.
    """
    if data_format not in FORMATS:
        raise ValueError(f"data_format must be one of {FORMATS}, not {data_format!r}.")
    info = REGISTRY["usps" if data_format == "esl" else "usps_h5"]
    paths = {remote.name: fetch_file(info, remote.name, data_dir, download=download and folder is None, folder=folder)
             for remote in info.files}
    if data_format == "esl":
        x_train, y_train = read_usps_text(paths["zip.train.gz"])
        x_test, y_test = read_usps_text(paths["zip.test.gz"])
    else:
        splits = read_usps_h5(paths["usps.h5"])
        (x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
    sample = read_sample_manifest(next(iter(paths.values())).parent)
    files = {name: {"path": str(path), "md5": md5sum(path)} for name, path in paths.items()}
    title = sample["title"] if sample else info.title
    return UspsData(x_train, y_train, x_test, y_test, files=files, title=title, sample=sample)
