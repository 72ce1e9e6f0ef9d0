"""The Kermany et al. (2018) chest X-ray folders, as published on Mendeley Data and Kaggle:
``root/{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg``.

The official validation folder holds 16 images, too few to choose anything on. ``load_kermany_folder`` pools it
with train and carves a validation split of its own, grouped by patient, so that no patient is in two splits: the
file names carry the patient (``person1_bacteria_1.jpeg`` and ``person1_virus_6.jpeg`` are one child; normal
images are ``IM-0115-0001.jpeg`` or ``NORMAL2-IM-0372-0001.jpeg``, one study number per child).

A copy with no ``test/`` (the training split alone, its official test kept aside to check trained models on) has its
test split carved from train the same way, whole patients at a time, and says so in ``KermanyData.test_note``.
"""

import dataclasses
import re
from pathlib import Path

import numpy as np

from common.datasets.files import DataError
from common.datasets.image_folders import load_image_folder
from common.datasets.splits import stratified_group_split

CLASS_FOLDERS = ("NORMAL", "PNEUMONIA")
CLASS_NAMES = ("normal", "pneumonia")
SPLIT_FOLDERS = ("train", "val", "test")
_PATIENT = (re.compile(r"^(person\d+)_", re.IGNORECASE), re.compile(r"^((?:NORMAL2-)?IM-\d+)-", re.IGNORECASE))


def patient_of(path):
    """The patient a Kermany file name belongs to (``person12``, ``IM-0115``, ``NORMAL2-IM-0372``); a name in
    neither pattern is a patient of its own."""
    name = Path(path).name
    for pattern in _PATIENT:
        match = pattern.match(name)
        if match:
            return match.group(1).upper() if pattern is _PATIENT[1] else match.group(1).lower()
    return Path(path).stem


@dataclasses.dataclass
class KermanyData:
    """uint8 images (N, size, size, 1) and int64 labels (0 normal, 1 pneumonia) per split, with their files."""

    splits: dict  # split -> (images, labels)
    paths: dict  # split -> list of source files
    patients: dict  # split -> array of patient ids
    skipped: list
    root: Path
    test_note: str = "the folder's own test/"


def load_kermany_folder(root, image_size, validation_fraction=0.15, seed=0, test_fraction=0.15):
    """Read ``root/train`` (with ``root/val`` pooled into it, where present) and ``root/test``, grey, resized to
    ``image_size``, and hold out a validation split of whole patients. Where ``root/test`` is absent, a test split
    of ``test_fraction`` of the patients is held out first, the same way.

    Raises:
        DataError: a class folder of train (or of a test/ that is there) is missing or holds no image; the message
            names it and the layout.
    """
    root = Path(root).expanduser()
    layout = ("root/train/{NORMAL,PNEUMONIA}/*.jpeg, with val/ and test/ alike where there are (the Kermany et al. "
              "2018 layout)")
    has_test = (root / "test").is_dir()
    for split in ("train", "test") if has_test else ("train",):
        for folder in CLASS_FOLDERS:
            if not (root / split / folder).is_dir():
                raise DataError(f"--data {root}: {root / split / folder} is missing; the folder must be laid out as "
                                f"{layout}.")
    pools = [load_image_folder(root / split, image_size, 1, class_names=list(CLASS_FOLDERS))
             for split in ("train", "val") if (root / split).is_dir()]
    images = np.concatenate([pool.images for pool in pools])
    labels = np.concatenate([pool.labels for pool in pools])
    paths = [path for pool in pools for path in pool.paths]
    patients = patients_of(paths)
    skipped = [item for pool in pools for item in pool.skipped]
    if has_test:
        test = load_image_folder(root / "test", image_size, 1, class_names=list(CLASS_FOLDERS))
        test_images, test_labels, test_paths = test.images, test.labels, list(test.paths)
        skipped += test.skipped
        test_note = "the folder's own test/"
    else:
        rest, tested = stratified_group_split(labels, patients, test_fraction, seed=seed)
        test_images, test_labels, test_paths = images[tested], labels[tested], [paths[i] for i in tested]
        images, labels, paths, patients = images[rest], labels[rest], [paths[i] for i in rest], patients[rest]
        test_note = (f"{test_fraction:.0%} of the training patients ({len(set(patients_of(test_paths)))}), whole "
                     "patients only: the folder has no test/")
    keep, held_out = stratified_group_split(labels, patients, validation_fraction, seed=seed)
    return KermanyData(
        splits={"train": (images[keep], labels[keep]), "val": (images[held_out], labels[held_out]),
                "test": (test_images, test_labels)},
        paths={"train": [paths[i] for i in keep], "val": [paths[i] for i in held_out], "test": test_paths},
        patients={"train": patients[keep], "val": patients[held_out], "test": patients_of(test_paths)},
        skipped=skipped, root=root, test_note=test_note)


def patients_of(paths):
    """``patient_of`` of every path, as an array."""
    return np.array([patient_of(path) for path in paths])
