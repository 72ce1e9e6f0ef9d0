"""A loader for MedMNIST v2's official ``.npz`` files, without the ``medmnist`` package (which pulls in PyTorch).

Every file holds six uint8 arrays, ``{train,val,test}_images`` and ``{train,val,test}_labels``:

- 2D grey: images (N, S, S); 2D colour: images (N, S, S, 3); 3D: images (N, S, S, S), all in 0..255;
- labels (N, 1) with the class index, or (N, L) of 0/1 for the multi-label ChestMNIST.

``load_medmnist`` adds the channel axis, so images are (N, S, S, C) for 2D and (N, S, S, S, 1) for 3D, and
returns labels as int64 (N,), or (N, L) for multi-label. For Keras, scale with ``to_float_images`` and batch
with ``common.train.as_dataset``::

    data = load_medmnist("retinamnist", size=28)       # downloads retinamnist.npz into DATA_DIR/medmnist/
    x_train, y_train = data.splits["train"]            # uint8 (1080, 28, 28, 3), int64 (1080,)
    train = as_dataset((to_float_images(x_train), y_train), batch_size=64, shuffle=True)

Files live in ``<DATA_DIR>/medmnist/`` under their official names (``retinamnist.npz``,
``retinamnist_64.npz``, ...). The facts each file is checked against are in ``common.datasets.medmnist_info``.
"""

import dataclasses
import zipfile
import zlib
from pathlib import Path

import numpy as np

from common.config import default_data_dir
from common.datasets.download import fetch_file
from common.datasets.files import DataError, md5sum, read_sample_manifest
from common.datasets.medmnist_info import MEDMNIST, SPLITS, medmnist_key, parse_medmnist_key
from common.datasets.registry import REGISTRY


@dataclasses.dataclass
class MedMNISTData:
    """The three splits of one MedMNIST file, with where they came from.

    ``splits[split]`` for split "train", "val", "test" is ``(images, labels)``:

    - images: uint8, values 0..255, shape (N, S, S, C) for 2D sets (C = 1 or 3) and (N, S, S, S, 1) for 3D;
    - labels: int64, shape (N,) with the class index for binary, multi-class and ordinal sets, or (N, L) of
      0/1 for a multi-label set (ChestMNIST, L = 14).
    """

    info: object  # the registry's DatasetInfo for this (flag, size)
    splits: dict
    path: Path
    md5: str
    sample: dict | None = None  # the sample-data manifest when these are not the real MedMNIST files

    @property
    def is_sample(self):
        return self.sample is not None

    @property
    def title(self):
        return self.sample["title"] if self.sample else self.info.title

    @property
    def task(self):
        return self.info.task

    @property
    def class_names(self):
        return list(self.info.class_names)


def _registry_entry(info):
    if isinstance(info, str):
        return REGISTRY[medmnist_key(*parse_medmnist_key(info))]
    return info


def load_medmnist_npz(path, info, splits=SPLITS, fix=None):
    """Read and check one MedMNIST ``.npz`` file against its registry entry.

    Args:
        path: the ``.npz`` file.
        info: its registry entry (``REGISTRY["retinamnist_64"]``), or that entry's key.
        splits: the splits to read (a hidden test set in the official format holds only ``test_*``).
        fix: the sentence that ends every error (default: replace the file with the official one).

    Returns:
        dict split -> (images, labels), as described in ``MedMNISTData``.

    Raises:
        DataError: the file is unreadable, lacks one of the keys ``{train,val,test}_{images,labels}``, holds
            images of another size, dimensionality or dtype, or labels that do not match the images or the
            classes. The message names the file and the fix.
    """
    info = _registry_entry(info)
    path = Path(path)
    flag, size = parse_medmnist_key(info.key)
    facts = MEDMNIST[flag]
    replace = fix or f"Replace it with the official {facts.file_name(size)} from {facts.url(size)}."
    expected_keys = [f"{split}_{kind}" for split in splits for kind in ("images", "labels")]
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in expected_keys if key not in archive.files]
            if missing:
                raise DataError(
                    f"{path} lacks the arrays {', '.join(missing)}; it has {', '.join(archive.files) or 'none'}. "
                    f"A MedMNIST file holds {{train,val,test}}_{{images,labels}}; this one must hold "
                    f"{', '.join(expected_keys)}. "
                    f"{replace}")
            raw = {key: archive[key] for key in expected_keys}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as error:
        if isinstance(error, FileNotFoundError):
            raise DataError(f"{path} does not exist. {replace}") from None
        raise DataError(f"{path} cannot be read as a NumPy .npz file ({error}); it is probably truncated or "
                        f"corrupt. Move it aside and download it again. {replace}") from None
    arrays = {}
    for split in splits:
        images = _checked_images(path, facts, size, split, raw[f"{split}_images"], replace)
        labels = _checked_labels(path, facts, split, raw[f"{split}_labels"], len(images), replace)
        arrays[split] = (images, labels)
    return arrays


def _checked_images(path, facts, size, split, images, replace):
    """Images with a channel axis, after checking dtype and shape against the facts."""
    expected = facts.image_shape(size)
    stored = images.shape[1:]
    key = f"{split}_images"
    if images.dtype != np.uint8:
        raise DataError(f"{path}: '{key}' has dtype {images.dtype}; MedMNIST stores uint8 images (0..255). "
                        f"{replace}")
    # Grey images are stored without a channel axis; accept an explicit one too.
    if stored == expected[:-1] and expected[-1] == 1:
        images = images[..., np.newaxis]
    if images.shape[1:] != expected:
        spatial = stored[:facts.dimensions]
        hint = ""
        if len(set(spatial)) == 1 and len(spatial) == facts.dimensions and spatial[0] in facts.sizes \
                and spatial[0] != size:
            other = spatial[0]
            hint = (f" It looks like the {other}-pixel file {facts.file_name(other)}: if so, give it that name "
                    f"and load it with size={other}.")
        raise DataError(
            f"{path}: '{key}' has shape {images.shape}, but {facts.python_class} at size {size} needs "
            f"(N, {', '.join(map(str, expected))}) ({facts.dimensions}D, {facts.channels} channel(s); grey "
            f"images may omit the channel axis).{hint} {replace}")
    return images


def _checked_labels(path, facts, split, labels, count, replace):
    """Labels as int64 (N,) or (N, L) for multi-label, after checking counts and values."""
    key = f"{split}_labels"
    if facts.task == "multi-label":
        wanted = f"(N, {facts.num_classes}) of 0/1"
        good_shape = labels.ndim == 2 and labels.shape[1] == facts.num_classes
    else:
        wanted = "(N, 1) or (N,) of class indices"
        good_shape = labels.ndim == 1 or (labels.ndim == 2 and labels.shape[1] == 1)
    if not good_shape:
        raise DataError(f"{path}: '{key}' has shape {labels.shape}; {facts.python_class} labels are {wanted}. "
                        f"{replace}")
    if labels.shape[0] != count:
        raise DataError(f"{path}: '{key}' has {labels.shape[0]} labels but '{split}_images' has {count} images; "
                        f"each image needs exactly one label row. The file is inconsistent: {replace}")
    if labels.dtype == bool:
        labels = labels.astype(np.uint8)
    if not np.issubdtype(labels.dtype, np.number) or (
            labels.size and (not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)))):
        raise DataError(f"{path}: '{key}' holds values that are not whole numbers ({labels.dtype}). {replace}")
    high = 1 if facts.task == "multi-label" else facts.num_classes - 1
    if labels.size and (labels.min() < 0 or labels.max() > high):
        raise DataError(f"{path}: '{key}' has values in [{labels.min()}, {labels.max()}], but "
                        f"{facts.python_class} labels lie in [0, {high}] ({facts.num_classes} "
                        f"{'labels' if facts.task == 'multi-label' else 'classes'}). {replace}")
    labels = labels.astype(np.int64)
    return labels if facts.task == "multi-label" else labels.reshape(-1)


def load_medmnist(flag, size=28, data_dir=None, download=True, folder=None):
    """Load one MedMNIST v2 set from ``data_dir/medmnist/`` (or ``folder``), downloading its file if it is missing.

    Args:
        flag: the set, e.g. "retinamnist", "chestmnist", "adrenalmnist3d" (see ``MEDMNIST``).
        size: image side in pixels: 28, 64, 128 or 224 for 2D sets; 28 or 64 for 3D sets.
        data_dir: the data root (default ``$DATA_DIR`` or ``data/``), holding ``medmnist/``.
        download: allow downloading the file from Zenodo (MD5-checked) when it is missing.
        folder: a folder of MedMNIST ``.npz`` files to read instead of ``data_dir/medmnist/`` (nothing is
            downloaded into it).

    Returns:
        A ``MedMNISTData``; ``is_sample`` is True when the folder holds the synthetic sample data.

    Raises:
        ValueError: an unknown flag or an unpublished size.
        DataError: the file is missing and cannot be downloaded, has the wrong MD5, or is malformed.
    """
    info = REGISTRY[medmnist_key(flag, size)]
    data_dir = default_data_dir() if data_dir is None else data_dir
    name = info.files[0].name
    path = fetch_file(info, name, data_dir, download=download and folder is None, folder=folder)
    sample = read_sample_manifest(path.parent)
    # fetch_file has just verified the file against this MD5, so there is no need to hash it again.
    md5 = sample["md5"][name] if sample else info.files[0].md5
    return MedMNISTData(info=info, splits=load_medmnist_npz(path, info), path=path, md5=md5, sample=sample)


def load_medmnist_file(path, flag, splits=SPLITS):
    """Read a MedMNIST-format ``.npz`` file a user made or re-packaged (``--npz PATH``): checked for the layout of
    set ``flag`` (keys, dtype, image shape, label values), not for an official MD5, at the image size its images
    have. ``splits``: the splits it must hold (a hidden test set holds only ``test_*``).

    Returns:
        A ``MedMNISTData`` whose ``md5`` is the file's own.

    Raises:
        DataError: the file is missing or unreadable, lacks a key, or holds arrays of another shape; one line that
            names the file, the key and the shape expected.
    """
    path, facts = Path(path).expanduser(), MEDMNIST[flag]
    fix = (f"A {facts.python_class}-format file holds uint8 {{train,val,test}}_images of (N, S, S"
           f"{', 3' if facts.channels == 3 else ''}) with S one of {', '.join(map(str, facts.sizes))}, and "
           "{train,val,test}_labels of (N,) or (N, 1).")
    if not path.is_file():
        raise DataError(f"--npz {path}: there is no such file. Give the path of a {facts.python_class}-format .npz "
                        f"file. {fix}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            key = f"{splits[0]}_images"
            shape = archive[key].shape if key in archive.files else None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as error:
        raise DataError(f"{path} cannot be read as a NumPy .npz file ({error}). {fix}") from None
    size = shape[1] if shape is not None and len(shape) >= 3 and shape[1] in facts.sizes else facts.sizes[0]
    info = REGISTRY[medmnist_key(flag, size)]
    return MedMNISTData(info=info, splits=load_medmnist_npz(path, info, splits, fix=fix), path=path, md5=md5sum(path))


def to_float_images(images):
    """Scale uint8 images (values 0..255, any shape) to float32 in [0, 1] for a Keras model.

    Raises:
        ValueError: the images are not uint8, so their range is unknown (they may be scaled already).
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"to_float_images expects uint8 images as MedMNIST stores them (0..255), not "
                         f"{images.dtype}. If they are already scaled, use them as they are.")
    return images.astype(np.float32) / np.float32(255.0)


# ----------------------------------------------------------------------------------------------------------
# Sample data: synthetic files in the official format.
