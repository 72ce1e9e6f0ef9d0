"""Assignment 3's data: volumes from the synthetic stand-in, a MedMNIST 3D set or the user's files, each
preprocessed to one tensor shape and split into train / validation / test.

Every volume becomes float32 (depth, image_size, image_size, 1), in the models' layout (D, H, W, C): D runs
along the inferior -> superior axis of the canonical RAS+ volume (one axial slice per index), H along
posterior -> anterior and W along left -> right. The steps, in order (``common.volume_preprocess``):
percentile windowing for contrast, optional CLAHE per axial slice, trilinear resampling to the uniform shape,
per-volume normalisation.
"""

import dataclasses
from pathlib import Path

import numpy as np

from common.datasets.files import DataError, read_sample_manifest
from common.datasets.samples import ensure_samples
from common.datasets.splits import stratified_split
from common.volume_preprocess import clahe_slices, normalize_volume, resample, window_percentiles

from .config import MEDMNIST_STAND_INS


@dataclasses.dataclass
class VolumeSplits:
    """Preprocessed volumes: x_* float32 (N, D, H, W, 1), y_* int64 (N,), labels index ``class_names``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    title: str  # what the data is, for the report
    source: str  # the folder, CSV or file it was read from
    sample: dict | None  # the sample-data manifest (synthetic), or None for real data
    split: str  # how train / validation / test were made
    examples: list  # (class name, raw RAS+ array, spacing, index in x_train): one training case per class
    skipped: list  # (path, reason) of unreadable cases
    md5: str | None = None  # the checksum of a single-file data set
    source_key: str = "volumes"  # the MedMNIST set (e.g. "adrenalmnist3d_64"), or the folder of the user's data

    @property
    def task(self):
        return "binary" if len(self.class_names) == 2 else "multi-class"

    @property
    def dataset(self):
        """The name result rows carry: the MedMNIST set, "mri-tumour-synthetic", or the name of the user's folder."""
        if self.sample:
            return "mri-tumour-synthetic" if self.md5 is None else f"{self.source_key}-sample-synthetic"
        return self.source_key

    def summary(self):
        """What metrics.json records about the data."""
        return {"title": self.title, "source": self.source, "md5": self.md5, "sample": bool(self.sample),
                "split": self.split, "skipped_files": self.skipped, "class_names": self.class_names,
                "volume_shape": list(self.x_train.shape[1:])}

    def describe(self):
        """One line: what the data is and the split."""
        return (f"{self.title}: {len(self.y_train)} train / {len(self.y_val)} validation / {len(self.y_test)} test "
                f"volumes of {self.x_train.shape[1:4]} (D, H, W)")


def _to_model_layout(array_xyz):
    """(X, Y, Z) RAS+ -> (Z, Y, X): axial slices first, as the 2D approaches take them."""
    return np.ascontiguousarray(np.transpose(array_xyz, (2, 1, 0)))


def resample_depth(array_xyz, depth):
    """Resample the slice axis (Z, the last) of a volume to ``depth`` slices by linear interpolation, corners
    aligned: output slice k lies at input position k * (Z - 1) / (depth - 1), so the first and last slices are
    kept. With the in-plane axes resampled the same way, this is trilinear resampling. float64 (X, Y, depth)."""
    array = np.asarray(array_xyz, dtype=np.float64)
    # TODO: linear interpolation along the last axis: the positions k * (Z - 1) / (depth - 1) for k = 0..depth-1
    #       (np.linspace), each between the slices floor(position) and the next one (the last slice for the
    #       last position), weighted by the position's fractional part.
    # BEGIN SOLUTION
    slices = array.shape[2]
    positions = np.linspace(0.0, slices - 1.0, depth)
    below = np.floor(positions).astype(int)
    above = np.minimum(below + 1, slices - 1)
    weight = positions - below
    return array[:, :, below] * (1.0 - weight) + array[:, :, above] * weight
    # END SOLUTION


def preprocess_one(array_xyz, config):
    """One volume (X, Y, Z) preprocessed to the models' grid: windowed, optionally CLAHE, trilinearly resampled
    (in-plane by ``common.volume_preprocess.resample``, then along the slices by ``resample_depth``), normalised;
    float32 (depth, image_size, image_size) in the models' layout."""
    array = window_percentiles(np.asarray(array_xyz, dtype=np.float32), config.window_low, config.window_high)
    if config.clahe:
        array = clahe_slices(array)
    in_plane = resample(array, (config.image_size, config.image_size, array.shape[2]), dtype=np.float64)
    array = resample_depth(in_plane, config.depth).astype(np.float32)
    return _to_model_layout(normalize_volume(array, config.normalization))


def preprocess_volumes(arrays_xyz, config):
    """Every volume (X, Y, Z) preprocessed to the models' input: float32 (N, depth, image_size, image_size, 1)."""
    return np.stack([preprocess_one(array, config) for array in arrays_xyz])[..., None].astype(np.float32)


def _examples(arrays_xyz, spacings, labels, class_names, train_indices):
    """The first training case of each class, unprocessed, for the plane viewer and the preprocessing figure."""
    picks = []
    for label, name in enumerate(class_names):
        position = int(np.flatnonzero(labels[train_indices] == label)[0])
        index = train_indices[position]
        picks.append((name, arrays_xyz[index], spacings[index], position))
    return picks


def _split_three_ways(labels, config):
    """Stratified (train, validation, test) indices for data without an official split."""
    counts = np.bincount(labels)
    if counts.min() < 3:
        raise DataError(f"every class needs at least 3 cases (one each for training, validation and testing); "
                        f"the smallest has {counts.min()}.")
    rest, test = stratified_split(labels, config.test_fraction, seed=config.seed)
    keep, held_out = stratified_split(labels[rest], config.validation_fraction / (1 - config.test_fraction),
                                      seed=config.seed + 1)
    return rest[keep], rest[held_out], test


def _from_volume_dataset(dataset, config, title, source, sample):
    arrays = [volume.array for volume in dataset.volumes]
    spacings = [volume.spacing for volume in dataset.volumes]
    train, validation, test = _split_three_ways(dataset.labels, config)
    x = preprocess_volumes(arrays, config)
    split = (f"stratified random split (seed {config.seed}): {config.test_fraction:.0%} test, "
             f"{config.validation_fraction:.0%} validation")
    return VolumeSplits(x[train], dataset.labels[train], x[validation], dataset.labels[validation], x[test],
                        dataset.labels[test], list(dataset.class_names), title, str(source), sample, split,
                        _examples(arrays, spacings, dataset.labels, dataset.class_names, train), dataset.skipped)


def _synthetic(config):
    from common.datasets.synthetic_mri import MRI_TUMOUR_CLASSES, MRI_TUMOUR_FOLDER
    from common.datasets.volumes import load_volume_dataset

    folder = ensure_samples("mri_tumour", cases_per_class=config.synthetic_cases_per_class) / MRI_TUMOUR_FOLDER
    manifest = read_sample_manifest(folder)
    dataset = load_volume_dataset(folder, class_names=list(MRI_TUMOUR_CLASSES))
    return _from_volume_dataset(dataset, config, manifest["title"], folder, manifest)


def _medmnist(config):
    from common.datasets.medmnist import load_medmnist

    flag, _, size = config.dataset.partition("_")
    data = load_medmnist(flag, size=int(size or 28), data_dir=config.data_dir)
    # MedMNIST stores each volume as (D, H, W); back to (X, Y, Z) for the same preprocessing as any scan.
    arrays = {split: medmnist_to_xyz(images) for split, (images, _) in data.splits.items()}
    labels = {split: labels for split, (_, labels) in data.splits.items()}
    examples = _examples(arrays["train"], [(1.0, 1.0, 1.0)] * len(arrays["train"]), labels["train"],
                         data.class_names, np.arange(len(labels["train"])))
    x = {split: preprocess_volumes(arrays[split], config) for split in arrays}
    return VolumeSplits(x["train"], labels["train"], x["val"], labels["val"], x["test"], labels["test"],
                        data.class_names,
                        data.title, str(data.path), data.sample, "the official MedMNIST train / val / test split",
                        examples, [], md5=data.md5, source_key=config.dataset)


def _user_volumes(config):
    from common.datasets.volumes import load_volume_dataset

    source = Path(config.data).expanduser()
    dataset = load_volume_dataset(source)
    splits = _from_volume_dataset(dataset, config, f"your volumes in {source}", source, read_sample_manifest(
        source if source.is_dir() else source.parent))
    splits.source_key = source.stem
    return splits


def medmnist_to_xyz(images):
    """MedMNIST 3D images (N, D, H, W, 1) as the list of (X, Y, Z) arrays every scan is preprocessed from."""
    return [np.transpose(volume[..., 0], (2, 1, 0)).astype(np.float32) for volume in images]


def read_new_volumes(source, config, class_names):
    """Cases a trained model never saw (the instructor's hidden test set), preprocessed as its run's: a folder
    root/<class>/<case> or a CSV path,label (as ``--data`` takes), or a ``.npz`` in the official MedMNIST format
    (``test_images``, ``test_labels``) of the run's MedMNIST set. Returns (volumes, labels int64 (N,)).

    Raises:
        DataError: an unreadable file or folder (the message names it).
    """
    from common.datasets.medmnist import load_medmnist_npz
    from common.datasets.volumes import load_volume_dataset

    source = Path(source)
    if source.suffix == ".npz":
        if config.data or config.dataset not in MEDMNIST_STAND_INS:
            raise DataError(f"{source}: a .npz hidden test set is for runs on a MedMNIST set; this run used "
                            f"{config.data or config.dataset!r}. Give a folder or CSV of volumes instead.")
        images, labels = load_medmnist_npz(source, config.dataset, splits=("test",))["test"]
        return preprocess_volumes(medmnist_to_xyz(images), config), labels
    dataset = load_volume_dataset(source, class_names=list(class_names))
    return preprocess_volumes([volume.array for volume in dataset.volumes], config), dataset.labels


def load_volumes(config):
    """Load and preprocess the volumes of ``config.data`` (a folder or CSV) or, when it is empty, of the data set
    ``config.dataset``; returns ``VolumeSplits``.

    Raises:
        DataError: missing or unreadable data; the message names the file and the fix.
    """
    if not config.data:
        return _synthetic(config) if config.dataset == "synthetic" else _medmnist(config)
    if not Path(config.data).expanduser().exists():
        raise DataError(f"--data {config.data}: no such folder or CSV file. Give the folder laid out as "
                        "root/<class>/<case>.nii.gz (or DICOM series folders root/<class>/<case>/), or a CSV with "
                        "the columns path,label.")
    return _user_volumes(config)


def choose_slice(x, y, mode):
    """The axial slice the single-slice model sees: the middle one, or the most informative one.

    "informative" ranks every slice by how well its mean and its standard deviation separate the classes on
    the given (training) volumes, as the ratio of between-class to within-class variance, and takes the best.

    Args:
        x: float32 (N, D, H, W, 1) training volumes; y: int (N,) labels.

    Returns:
        (slice index, per-slice scores or None).
    """
    depth = x.shape[1]
    if mode == "central":
        return depth // 2, None
    features = np.stack([x.mean(axis=(2, 3, 4)), x.std(axis=(2, 3, 4))])  # (2, N, D)
    classes = np.unique(y)
    class_means = np.stack([features[:, y == label].mean(axis=1) for label in classes])  # (K, 2, D)
    between = class_means.var(axis=0)
    within = np.stack([features[:, y == label].var(axis=1) for label in classes]).mean(axis=0)
    scores = (between / (within + 1e-8)).max(axis=0)
    return int(np.argmax(scores)), scores
