"""Assignment 4's data: one MedMNIST v2 set (flag and size) as float arrays with its official split.

``load_task_data(flag, size, config)`` reads ``<DATA_DIR>/medmnist/<file>.npz`` through
``common.datasets.medmnist.load_medmnist`` (MD5-checked, downloaded when missing and allowed), or the
synthetic sample file of the same name and format for ``--dataset sample`` (``data/samples/medmnist``).
"""

import dataclasses
from pathlib import Path

import numpy as np

from common.datasets.medmnist import load_medmnist, to_float_images
from common.datasets.medmnist_info import medmnist_key
from common.datasets.samples import ensure_samples


@dataclasses.dataclass
class TaskData:
    """One MedMNIST set ready for Keras.

    ``x_*`` are float32 in [0, 1], (N, S, S, C) for 2D sets and (N, S, S, S, 1) for 3D sets; ``y_*`` are int64
    class indices (N,), or (N, L) of 0/1 for a multi-label set. ``key`` is the registry key ("retinamnist",
    "adrenalmnist3d_64"), ``task`` one of binary / multi-class / ordinal / multi-label.
    """

    key: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    task: str
    title: str
    path: Path
    md5: str
    sample: dict | None

    @property
    def num_outputs(self):
        return len(self.class_names)

    @property
    def dataset(self):
        """The name result rows carry: the registry key, marked when the data are the synthetic stand-in."""
        return f"{self.key}-sample-synthetic" if self.sample else self.key

    @property
    def test_split(self):
        """The name of this set's test split in the results. A run scores two data sets (3D and 2D), and the
        grader compares the labels of every model on one split, so each set's test split has its own name."""
        return f"test-{self.key}"

    def targets(self, labels):
        """Training targets: one-hot float32 (N, C) for single-label tasks, 0/1 float32 (N, L) for multi-label."""
        if self.task == "multi-label":
            return labels.astype(np.float32)
        return np.eye(self.num_outputs, dtype=np.float32)[labels]

    def summary(self):
        """What metrics.json records about this set."""
        return {"title": self.title, "path": str(self.path), "md5": self.md5, "sample": bool(self.sample),
                "task": self.task, "class_names": self.class_names, "test_split": self.test_split,
                "counts": {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}}

    def class_counts(self):
        """Images per class in each split, as rows {"split": ..., <class name>: count} (for a multi-label set,
        the images with each finding)."""
        rows = []
        for split, labels in (("train", self.y_train), ("validation", self.y_val), ("test", self.y_test)):
            counts = (labels.sum(axis=0) if self.task == "multi-label"
                      else np.bincount(labels, minlength=self.num_outputs))
            rows.append({"split": split, **{name: int(count) for name, count in zip(self.class_names, counts)}})
        return rows

    def describe(self):
        """A one-line summary of the splits and the class balance (training split)."""
        counts = (self.y_train.sum(axis=0) if self.task == "multi-label"
                  else np.bincount(self.y_train, minlength=self.num_outputs))
        balance = ", ".join(f"{name} {int(count)}" for name, count in zip(self.class_names, counts))
        return (f"{self.title}: {len(self.y_train)} train / {len(self.y_val)} validation / {len(self.y_test)} test, "
                f"{self.task}; training {'positives per label' if self.task == 'multi-label' else 'classes'}: "
                f"{balance}")


def volume_as_xyz(volume):
    """One MedMNIST volume, (D, H, W) or (D, H, W, 1), as the (X, Y, Z) array ``common.planes.plot_planes`` shows.

    MedMNIST records neither the orientation nor the voxel size of its volumes; the suite reads D as inferior ->
    superior, H as posterior -> anterior and W as the patient's left -> right (as assignment 3 does), so the
    orientation letters of the planes follow from that reading.
    """
    volume = np.asarray(volume)
    if volume.ndim == 4 and volume.shape[-1] == 1:
        volume = volume[..., 0]
    if volume.ndim != 3:
        raise ValueError(f"volume_as_xyz takes one volume (D, H, W) or (D, H, W, 1), got shape {volume.shape}; "
                         "pass data.x_train[i], not the whole split.")
    return np.transpose(volume, (2, 1, 0))


def load_task_data(flag, size, config):
    """Load MedMNIST set ``flag`` at ``size`` px as ``TaskData`` (see the module docstring).

    Raises:
        DataError: the file is missing and cannot be downloaded, has another MD5, or is malformed; the
            message names the file, the URL and the fix.
    """
    if config.data:
        data = load_medmnist(flag, size, folder=config.data)
    elif config.dataset == "sample":
        root = ensure_samples("medmnist", flags=(medmnist_key(flag, size),))
        data = load_medmnist(flag, size, data_dir=root, download=False)
    else:
        data = load_medmnist(flag, size, data_dir=config.data_dir)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (data.splits[split] for split in ("train", "val", "test"))
    return TaskData(key=medmnist_key(flag, size), x_train=to_float_images(x_train), y_train=y_train,
                    x_val=to_float_images(x_val), y_val=y_val, x_test=to_float_images(x_test), y_test=y_test,
                    class_names=data.class_names, task=data.task, title=data.title, path=data.path, md5=data.md5,
                    sample=data.sample)

