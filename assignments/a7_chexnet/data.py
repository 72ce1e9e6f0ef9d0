"""Assignment 7's data: PneumoniaMNIST (official, a user's MedMNIST-format file, or the synthetic sample) or the
Kermany et al. chest X-ray folders, as float32 images in [0, 1] with labels 0 normal / 1 pneumonia."""

import dataclasses
from pathlib import Path

import numpy as np

from common.datasets.kermany import load_kermany_folder
from common.datasets.medmnist import load_medmnist, load_medmnist_file, to_float_images
from common.datasets.medmnist_info import medmnist_key
from common.datasets.samples import ensure_samples

FLAG = "pneumoniamnist"
CLASS_NAMES = ["normal", "pneumonia"]
KERMANY_TITLE = "Kermany et al. 2018 paediatric chest X-rays (Guangzhou), in their folders"


@dataclasses.dataclass
class ChestXrayData:
    """Images float32 (N, S, S, 1) in [0, 1] and labels int64 (N,) per split; where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    dataset: str  # the name result rows carry
    title: str
    source: str  # the file or folder read
    md5: str | None
    sample: dict | None
    class_names: list = dataclasses.field(default_factory=lambda: list(CLASS_NAMES))
    validation_note: str = "the file's own validation split"
    test_note: str = "the file's own test split"

    @property
    def input_shape(self):
        return self.x_train.shape[1:]

    def counts(self, split):
        """(normal, pneumonia) images of a split."""
        labels = {"train": self.y_train, "val": self.y_val, "test": self.y_test}[split]
        return int((labels == 0).sum()), int((labels == 1).sum())

    def describe(self):
        """One line: the splits and their classes."""
        return "; ".join(f"{split} {sum(self.counts(split))} ({self.counts(split)[0]} normal / "
                         f"{self.counts(split)[1]} pneumonia)" for split in ("train", "val", "test"))

    def summary(self):
        """What metrics.json records about the data."""
        return {"title": self.title, "source": self.source, "md5": self.md5, "sample": bool(self.sample),
                "image_size": int(self.x_train.shape[1]), "validation": self.validation_note,
                "test": self.test_note,
                **{f"{split}_counts": dict(zip(self.class_names, self.counts(split)))
                   for split in ("train", "val", "test")}}


def _from_medmnist(data, dataset, note="the file's own validation split", title=None):
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (data.splits[split] for split in ("train", "val", "test"))
    return ChestXrayData(to_float_images(x_train), y_train, to_float_images(x_val), y_val, to_float_images(x_test),
                         y_test, dataset=dataset, title=title or data.title, source=str(data.path), md5=data.md5,
                         sample=data.sample, validation_note=note)


def load_chest_xray_data(config):
    """The data ``config`` names: ``--npz``, ``--data`` (Kermany folders), or ``--dataset``.

    Raises:
        DataError: the file or folder is missing or not in its layout; one line that names it and the fix.
    """
    if config.npz:
        data = load_medmnist_file(config.npz, FLAG)
        return _from_medmnist(data, FLAG, title=f"a PneumoniaMNIST-format file, {data.path.name} (its layout checked, "
                                                "not the official MD5)")
    if config.data:
        folders = load_kermany_folder(config.data, config.size, config.validation_fraction, seed=config.seed,
                                      test_fraction=config.test_fraction)
        (x_train, y_train), (x_val, y_val), (x_test, y_test) = (folders.splits[s] for s in ("train", "val", "test"))
        patients = len(set(folders.patients["val"]))
        return ChestXrayData(to_float_images(x_train), y_train, to_float_images(x_val), y_val,
                             to_float_images(x_test), y_test, dataset="kermany", title=KERMANY_TITLE,
                             source=str(Path(folders.root)), md5=None, sample=None,
                             validation_note=f"{config.validation_fraction:.0%} of the training patients "
                                             f"({patients}), whole patients only", test_note=folders.test_note)
    if config.dataset == "sample":
        root = ensure_samples("medmnist", flags=(medmnist_key(FLAG, config.size),))
        return _from_medmnist(load_medmnist(FLAG, config.size, data_dir=root, download=False),
                              "pneumoniamnist-sample-synthetic")
    return _from_medmnist(load_medmnist(FLAG, config.size, data_dir=config.data_dir), FLAG)
