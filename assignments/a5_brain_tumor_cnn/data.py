"""Assignment 5's data: the two official splits, a validation split, and the leakage check."""

import dataclasses
from pathlib import Path

import numpy as np

from common.datasets.duplicates import find_duplicates
from common.datasets.files import DataError, read_sample_manifest
from common.datasets.image_folders import load_image_folder
from common.datasets.registry import REGISTRY
from common.datasets.samples import ensure_samples
from common.datasets.splits import stratified_split

INFO = REGISTRY["brain_tumor_mri"]


@dataclasses.dataclass
class BrainTumorData:
    """Arrays ready for Keras: images float32 (N, size, size, C) in [0, 255], labels int64 (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    train_paths: list  # the source file of each training image (x_train's order)
    test_paths: list
    class_names: list
    duplicates: object  # common.datasets.duplicates.DuplicateReport
    skipped: list  # (path, reason) of unreadable files
    root: Path
    sample: dict | None

    @property
    def dataset(self):
        """The name result rows carry."""
        return "brain-tumor-sample-synthetic" if self.sample else "brain_tumor_mri"

    @property
    def input_shape(self):
        return self.x_train.shape[1:]

    def describe(self):
        """One line: the split and the leakage found."""
        return (f"{len(self.y_train)} train / {len(self.y_val)} validation / {len(self.y_test)} test; "
                f"{self.duplicates.near_test_in_train} test images have a (near) copy in Training")

    def summary(self):
        """What metrics.json records about the data."""
        return {"title": self.sample["title"] if self.sample else INFO.title, "root": str(self.root),
                "sample": bool(self.sample), "skipped_files": self.skipped}


def dataset_root(config):
    """The folder holding Training/ and Testing/, or a ``DataError`` that says how to get it."""
    if config.data:
        root = Path(config.data).expanduser()
    else:
        data_dir = ensure_samples("brain_tumor_mri") if config.dataset == "sample" else config.data_dir
        root = Path(data_dir) / INFO.folder
    missing = [split for split in ("Training", "Testing") if not (root / split).is_dir()]
    if missing and config.data:
        raise DataError(f"--data {config.data}: {root / missing[0]} is missing. Give a folder that holds Training/ "
                        "and Testing/, with one sub-folder of images per class in each.")
    if missing:
        raise DataError(f"{root / missing[0]} is missing. The {INFO.title} needs a Kaggle login, so it is "
                        f"not downloaded automatically. {INFO.manual_steps.format(folder=root)} Or point "
                        "DATA_DIR at a folder that holds brain_tumor_mri/.")
    return root


def load_brain_tumor_data(config):
    """Load both splits, hold out a stratified validation split from Training, and check for duplicates."""
    root = dataset_root(config)
    train = load_image_folder(root / "Training", config.image_size, config.channels)
    test = load_image_folder(root / "Testing", config.image_size, config.channels)
    if train.class_names != test.class_names:
        raise DataError(f"{root}: Training has classes {train.class_names} but Testing has {test.class_names}; "
                        "both splits need the same class folders.")
    duplicates = find_duplicates(train.paths, train.images, test.paths, test.images,
                                 max_distance=config.duplicate_max_distance)
    keep, held_out = stratified_split(train.labels, config.validation_fraction, seed=config.seed)
    images = train.images.astype(np.float32)
    return BrainTumorData(
        x_train=images[keep], y_train=train.labels[keep], x_val=images[held_out], y_val=train.labels[held_out],
        x_test=test.images.astype(np.float32), y_test=test.labels,
        train_paths=[train.paths[index] for index in keep], test_paths=test.paths,
        class_names=train.class_names, duplicates=duplicates, skipped=train.skipped + test.skipped, root=root,
        sample=read_sample_manifest(root),
    )
