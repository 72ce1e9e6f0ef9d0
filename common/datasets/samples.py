"""Small sample data sets written in the same on-disk formats as the real ones.

``make demo``, ``--smoke`` runs and the tests read these files through the real loaders, so the whole
pipeline (checksums, parsing, training, reporting) runs without any download. Every sample folder holds a
``SAMPLE_DATA.json`` manifest (what the data is, what it stands in for, the MD5 of each file); reports made
from it say at the top that they are not results on the real data set.
"""

import gzip
import json
from pathlib import Path

import numpy as np

from common.config import REPO_ROOT
from common.datasets.download import SAMPLE_MANIFEST, md5sum

SAMPLES_DIR = REPO_ROOT / "data" / "samples"


def _write_manifest(folder, title, stands_in_for, description, names):
    manifest = {
        "title": title,
        "stands_in_for": stands_in_for,
        "description": description,
        "md5": {name: md5sum(folder / name) for name in names},
    }
    (folder / SAMPLE_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def write_usps_samples(data_dir=SAMPLES_DIR, test_fraction=0.25, seed=0):
    """Write a USPS stand-in to ``data_dir/usps/``: ``zip.train.gz``, ``zip.test.gz`` and ``usps.h5``.

    The digits are real handwriting, but not USPS: scikit-learn's copy of the UCI optical-digits set
    (1,797 images of 8x8, 17 grey levels), upsampled bilinearly to 16x16 and written in USPS's ESL text
    form ([-1, 1]) and HDF5 form ([0, 1]).

    Returns:
        The folder written.
    """
    import cv2
    import h5py
    from sklearn.datasets import load_digits

    folder = Path(data_dir) / "usps"
    folder.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    images = np.stack([cv2.resize((image / 16.0).astype(np.float32), (16, 16), interpolation=cv2.INTER_LINEAR)
                       for image in digits.images])
    images = np.clip(images, 0.0, 1.0).reshape(len(images), 256)
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    n_test = int(round(len(labels) * test_fraction))
    splits = {"test": order[:n_test], "train": order[n_test:]}
    for split, index in splits.items():
        lines = [" ".join([f"{labels[i]:.4f}"] + [f"{2.0 * v - 1.0:.4f}" for v in images[i]]) for i in index]
        # mtime=0 keeps the gzip bytes, and so the MD5, identical from one generation to the next.
        with open(folder / f"zip.{split}.gz", "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            gz.write(("\n".join(lines) + "\n").encode("ascii"))
    with h5py.File(folder / "usps.h5", "w") as handle:
        for split, index in splits.items():
            handle.create_dataset(f"{split}/data", data=images[index])
            handle.create_dataset(f"{split}/target", data=labels[index])
    _write_manifest(
        folder,
        title="USPS stand-in: scikit-learn 8x8 digits upsampled to 16x16 (sample data, not USPS)",
        stands_in_for="usps",
        description=("1,797 handwritten digits from scikit-learn's load_digits (UCI optical recognition of "
                     "handwritten digits), upsampled from 8x8 to 16x16 and written in the USPS file formats. "
                     "For demos and tests only: numbers measured on it are not USPS results."),
        names=("zip.train.gz", "zip.test.gz", "usps.h5"),
    )
    return folder


SAMPLE_WRITERS = {"usps": write_usps_samples}


def ensure_samples(name, data_dir=SAMPLES_DIR):
    """Write sample data set ``name`` under ``data_dir`` unless a complete copy is already there."""
    folder = Path(data_dir) / name
    if not (folder / SAMPLE_MANIFEST).exists():
        SAMPLE_WRITERS[name](data_dir)
    return Path(data_dir)
