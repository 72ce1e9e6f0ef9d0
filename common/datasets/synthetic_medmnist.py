"""Synthetic stand-ins for MedMNIST v2 files, written in the official ``.npz`` format (sample data, not MedMNIST).

``write_medmnist_samples`` writes files with the official names, keys, dtypes (uint8), image shapes and label
layout, so ``common.datasets.medmnist.load_medmnist`` reads them like the real ones. The images carry a
learnable signal tied to the label (one bright blob whose place encodes the class); they look nothing like
the real images. A ``SAMPLE_DATA.json`` manifest says so and lists every file's MD5.
"""

from pathlib import Path

import numpy as np

from common.datasets.files import SAMPLE_MANIFEST, SAMPLES_DIR, read_sample_manifest, write_sample_manifest
from common.datasets.medmnist_info import DEFAULT_DOWNLOADS, FOLDER, MEDMNIST, SPLITS, medmnist_key, parse_medmnist_key


def _blob(coordinates, centre, sigma):
    """A Gaussian bump of height 1 at ``centre`` (fractions of the image side) on the grid ``coordinates``."""
    squared = sum((axis - position) ** 2 for axis, position in zip(coordinates, centre))
    return np.exp(-squared / (2.0 * sigma**2))


def _synthetic_split(facts, size, count, rng):
    """``count`` synthetic images and labels of ``facts``'s set in its stored form (uint8, official shapes).

    Single-label sets: one bright blob whose place on a ring around the centre depends on the class (for
    ordinal sets it also grows with the grade). Multi-label sets: one blob per positive label, each label at
    its own spot of a grid. In 3D the blobs lie in the middle slice along the first axis, so the central slice
    shows them. A faint noisy background makes the task not entirely trivial.
    """
    dims = facts.dimensions
    axis = (np.arange(size) + 0.5) / size
    coordinates = np.meshgrid(*([axis] * dims), indexing="ij", sparse=True)
    if facts.task == "multi-label":
        labels = (rng.random((count, facts.num_classes)) < 0.3).astype(np.uint8)
        side = int(np.ceil(np.sqrt(facts.num_classes)))
        spots = [((row + 0.5) / side, (column + 0.5) / side) for row in range(side) for column in range(side)]
    else:
        labels = np.arange(count) % facts.num_classes  # every class present, even in tiny splits
        rng.shuffle(labels)
        labels = labels.astype(np.uint8).reshape(count, 1)
    images = np.empty((count,) + (size,) * dims, dtype=np.uint8)
    # The background noise comes in blocks of about 1/14 of the side, so that the files compress well
    # (a 64^3 sample set stays a few megabytes) and the noise has the same scale at every image size.
    block = max(1, size // 14)
    coarse = -(-size // block)
    for index in range(count):
        volume = rng.uniform(20, 60, size=(coarse,) * dims)
        for axis_index in range(dims):
            volume = np.repeat(volume, block, axis=axis_index)
        volume = volume[(slice(0, size),) * dims]
        if facts.task == "multi-label":
            for label in np.flatnonzero(labels[index]):
                centre = np.array((0.5,) * (dims - 2) + spots[label]) + rng.normal(0, 0.01, dims)
                volume += 170 * _blob(coordinates, centre, 0.25 / side)
        else:
            label = int(labels[index, 0])
            angle = 2 * np.pi * label / facts.num_classes
            centre = np.array((0.5,) * (dims - 2) + (0.5 + 0.25 * np.cos(angle), 0.5 + 0.25 * np.sin(angle)))
            centre = centre + rng.normal(0, 0.02, dims)
            grade = label / max(facts.num_classes - 1, 1)
            sigma = 0.06 + 0.05 * grade if facts.task == "ordinal" else 0.08
            volume += 180 * _blob(coordinates, centre, sigma)
        images[index] = np.clip(volume, 0, 255).astype(np.uint8)
    if facts.channels == 3:
        # A reddish tint, as in fundus photographs and stained slides; the channels stay correlated.
        tint = np.array([1.0, 0.6, 0.4])
        images = np.clip(images[..., np.newaxis] * tint, 0, 255).astype(np.uint8)
    return images, labels


def write_medmnist_samples(data_dir=SAMPLES_DIR, flags=DEFAULT_DOWNLOADS, per_split=(60, 20, 20), seed=0):
    """Write synthetic stand-ins for MedMNIST files to ``data_dir/medmnist/`` in the official format.

    Each file has the official name (``retinamnist.npz``, ``adrenalmnist3d_64.npz``, ...), keys, dtypes
    (uint8), image shapes and label layout, so ``load_medmnist`` reads it like the real one. The images carry
    a learnable signal tied to the label (see ``_synthetic_split``), so a small model beats chance on them;
    they look nothing like the real images. A ``SAMPLE_DATA.json`` manifest says so and lists every file's
    MD5; writing more flags into a folder that already holds sample files adds them to its manifest.

    Args:
        data_dir: the sample data root.
        flags: registry keys to write: a flag for size 28 ("retinamnist") or flag_size ("adrenalmnist3d_64").
        per_split: number of images in (train, val, test).
        seed: seed of the random generator; the same seed writes the same files.

    Returns:
        The folder written.
    """
    if isinstance(flags, str):
        flags = (flags,)
    if len(per_split) != 3 or any(int(count) < 1 for count in per_split):
        raise ValueError(f"per_split must be three positive counts (train, val, test), not {per_split!r}.")
    parsed = [parse_medmnist_key(key) for key in flags]
    folder = Path(data_dir) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    previous = read_sample_manifest(folder)
    if previous is None and any(folder.glob("*.npz")):
        raise ValueError(f"{folder} already holds .npz files but no {SAMPLE_MANIFEST}: it looks like real "
                         "MedMNIST data. Write the sample data to another folder.")
    names = [name for name in (previous or {}).get("md5", {}) if (folder / name).exists()]
    stands_in_for = (previous or {}).get("stands_in_for", [])
    stands_in_for = [stands_in_for] if isinstance(stands_in_for, str) else list(stands_in_for)
    for flag, size in parsed:
        facts = MEDMNIST[flag]
        # One generator per file, seeded from the key, so a file does not depend on the others written with it.
        key = medmnist_key(flag, size)
        rng = np.random.default_rng([seed, *key.encode()])
        arrays = {}
        for split, count in zip(SPLITS, per_split):
            arrays[f"{split}_images"], arrays[f"{split}_labels"] = _synthetic_split(facts, size, int(count), rng)
        np.savez_compressed(folder / facts.file_name(size), **arrays)
        names = [name for name in names if name != facts.file_name(size)] + [facts.file_name(size)]
        stands_in_for = [name for name in stands_in_for if name != key] + [key]
    write_sample_manifest(
        folder,
        title="Synthetic MedMNIST-format files (sample data, not MedMNIST)",
        stands_in_for=stands_in_for,
        description=("Computer-generated images in the official MedMNIST .npz format: noise with one bright blob "
                     "whose position (and, for graded sets, size) encodes the class, or one blob per positive "
                     "label for multi-label sets. For demos and tests only: numbers measured on it are not "
                     "MedMNIST results."),
        names=names,
    )
    return folder
