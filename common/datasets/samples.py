"""Sample data sets: small copies in the real files' formats, written on first use, read by the real loaders.

``make demo``, ``--smoke`` runs and the tests read these files through the same loaders as the real data, so
the whole pipeline (checksums, parsing, training, reporting) runs without any download. Every sample folder
holds a ``SAMPLE_DATA.json`` manifest (``common.datasets.files``); reports made from it say at the top that they
are not results on the real data set.

``ensure_samples(name, **options)`` is the one way to get a sample set: it writes the set unless a complete
copy is there and returns the data root that holds it, laid out like ``DATA_DIR`` (``root/<folder>/...``)::

    load_usps(ensure_samples("usps"))                                   # root/usps/zip.train.gz, ...
    ensure_samples("spect_phantoms", class_counts=(16, 12, 8)) / "spect_phantoms"   # a class-folder tree

A set whose writer takes options (counts, shapes) gets one root per combination of options, so runs with
different settings never share or overwrite a set.
"""

import dataclasses
import gzip
from pathlib import Path

import numpy as np

from common.datasets.files import SAMPLES_DIR, read_sample_manifest, write_sample_manifest
from common.datasets.medmnist_info import DEFAULT_DOWNLOADS, MEDMNIST, parse_medmnist_key
from common.datasets.synthetic_brain_mri import write_brain_tumor_samples
from common.datasets.synthetic_medmnist import write_medmnist_samples
from common.datasets.synthetic_mri import MRI_TUMOUR_FOLDER, write_mri_volume_samples
from common.datasets.synthetic_segmentation import (
    DECATHLON_FOLDER,
    EM_FOLDER,
    write_decathlon_samples,
    write_em_samples,
)
from common.datasets.synthetic_spect import SPECT_FOLDER, write_spect_phantoms


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
    write_sample_manifest(
        folder,
        title="USPS stand-in: scikit-learn 8x8 digits upsampled to 16x16 (sample data, not USPS)",
        stands_in_for="usps",
        description=("1,797 handwritten digits from scikit-learn's load_digits (UCI optical recognition of "
                     "handwritten digits), upsampled from 8x8 to 16x16 and written in the USPS file formats. "
                     "For demos and tests only: numbers measured on it are not USPS results."),
        names=("zip.train.gz", "zip.test.gz", "usps.h5"),
    )
    return folder


def _write_medmnist(root, flags=DEFAULT_DOWNLOADS):
    return write_medmnist_samples(root, flags=flags)


def _medmnist_complete(folder, manifest, flags=DEFAULT_DOWNLOADS):
    """Every requested MedMNIST file is listed in the folder's manifest (files are added to it one by one)."""
    wanted = [MEDMNIST[flag].file_name(size) for flag, size in map(parse_medmnist_key, flags)]
    return all(name in manifest.get("md5", {}) and (folder / name).exists() for name in wanted)


@dataclasses.dataclass(frozen=True)
class SampleSet:
    """One sample set: the folder it fills under its data root, and how to write it."""

    folder: str  # as the real data set's folder under DATA_DIR
    write: object  # write(root, **options): writes root/folder
    # Options pick a root of their own (one set per combination); False: one root, the writer adds to it.
    options_pick_the_root: bool = False
    # complete(folder, manifest, **options): is what the options ask for already there? Default: a manifest.
    complete: object = None
    # Bump when the writer changes, so that an older copy on disk is not reused.
    version: int = 1


SAMPLE_SETS = {
    "usps": SampleSet("usps", write_usps_samples),
    "brain_tumor_mri": SampleSet("brain_tumor_mri", write_brain_tumor_samples),
    "medmnist": SampleSet("medmnist", _write_medmnist, complete=_medmnist_complete),
    "spect_phantoms": SampleSet(SPECT_FOLDER, lambda root, **options: write_spect_phantoms(
        Path(root) / SPECT_FOLDER, **options), options_pick_the_root=True),
    "mri_tumour": SampleSet(MRI_TUMOUR_FOLDER, write_mri_volume_samples, options_pick_the_root=True),
    "em_slices": SampleSet(EM_FOLDER, write_em_samples, options_pick_the_root=True),
    "decathlon": SampleSet(DECATHLON_FOLDER, write_decathlon_samples, options_pick_the_root=True),
}


def _option_text(value):
    if isinstance(value, list | tuple):
        return "x".join(_option_text(item) for item in value)
    return str(value)


def sample_root(name, data_dir=SAMPLES_DIR, **options):
    """The data root of sample set ``name`` with ``options`` (see ``ensure_samples``), written or not."""
    if name not in SAMPLE_SETS:
        raise ValueError(f"Unknown sample set {name!r}; the sample sets are {', '.join(SAMPLE_SETS)}.")
    sample_set = SAMPLE_SETS[name]
    if not (sample_set.options_pick_the_root and options):
        return Path(data_dir)
    text = "_".join(f"{key}-{_option_text(value)}" for key, value in sorted(options.items()))
    return Path(data_dir) / f"{name}_v{sample_set.version}_{text}"


def ensure_samples(name, data_dir=SAMPLES_DIR, **options):
    """Write sample set ``name`` (one of ``SAMPLE_SETS``) under ``data_dir`` unless a complete copy is there.

    Args:
        name: "usps", "brain_tumor_mri", "medmnist" (option ``flags``: registry keys such as "retinamnist" or
            "adrenalmnist3d_64"), "spect_phantoms" (options of ``synthetic_spect.write_spect_phantoms``) or
            "mri_tumour" (options of ``synthetic_mri.write_mri_volume_samples``), "em_slices" and "decathlon"
            (options of ``synthetic_segmentation.write_em_samples`` / ``write_decathlon_samples``).
        data_dir: the sample-data root (default: the git-ignored ``data/samples/``).
        options: passed to the set's writer.

    Returns:
        The data root holding the set as ``root/<SAMPLE_SETS[name].folder>/``.
    """
    root = sample_root(name, data_dir, **options)
    sample_set = SAMPLE_SETS[name]
    folder = root / sample_set.folder
    manifest = read_sample_manifest(folder)
    complete = manifest is not None and (sample_set.complete is None or
                                         sample_set.complete(folder, manifest, **options))
    if not complete:
        print(f"[data] writing the sample set {name!r} to {folder} (first use only)", flush=True)
        sample_set.write(root, **options)
    return root
