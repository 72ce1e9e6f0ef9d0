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


BRAIN_TUMOR_CLASSES = ("glioma", "meningioma", "notumor", "pituitary")


def _synthetic_brain_slice(rng, size, label):
    """A grey axial "slice": skull ring, brain tissue with texture, ventricles, and a class-specific lesion.

    glioma: an irregular bright mass inside one hemisphere; meningioma: a round bright mass against the skull;
    pituitary: a small bright mass at the skull base, near the midline; notumor: no mass.
    """
    from scipy.ndimage import gaussian_filter

    yy, xx = np.mgrid[0:size, 0:size] / size - 0.5
    ry, rx = rng.uniform(0.38, 0.44), rng.uniform(0.32, 0.38)
    radius = (yy / ry) ** 2 + (xx / rx) ** 2
    image = np.zeros((size, size))
    image[(radius > 0.82) & (radius <= 1.0)] = 0.9  # skull and scalp
    brain = radius <= 0.82
    texture = gaussian_filter(rng.normal(size=(size, size)), size / 40)
    image[brain] = 0.45 + 0.15 * texture[brain] / (np.abs(texture).max() + 1e-6)
    for side in (-1, 1):  # lateral ventricles
        image[((yy + 0.02) / 0.12) ** 2 + ((xx - side * 0.05) / 0.03) ** 2 <= 1] = 0.15
    if label != "notumor":
        if label == "glioma":
            side = rng.choice([-1, 1])
            cy, cx, r = rng.uniform(-0.15, 0.15), side * rng.uniform(0.1, 0.2), rng.uniform(0.07, 0.11)
        elif label == "meningioma":
            angle = rng.uniform(0, 2 * np.pi)
            cy, cx, r = 0.7 * ry * np.sin(angle), 0.7 * rx * np.cos(angle), rng.uniform(0.05, 0.08)
        else:
            cy, cx, r = rng.uniform(0.2, 0.26), rng.uniform(-0.03, 0.03), rng.uniform(0.03, 0.045)
        irregularity = 0.35 if label == "glioma" else 0.05  # gliomas infiltrate; the others are smooth
        wobble = 1 + irregularity * np.sin(5 * np.arctan2(yy - cy, xx - cx) + rng.uniform(0, 6))
        lesion = np.hypot(yy - cy, xx - cx) <= r * wobble
        image[lesion & brain] = rng.uniform(0.85, 1.0)
    image = gaussian_filter(image, 0.8) + rng.normal(0, 0.03, size=image.shape)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def write_brain_tumor_samples(data_dir=SAMPLES_DIR, train_per_class=30, test_per_class=10, seed=0):
    """Write a small synthetic stand-in for the Kaggle Brain Tumor MRI set in its folder layout.

    ``brain_tumor_mri/{Training,Testing}/<class>/*.jpg`` (a few PNGs and RGB JPEGs too, sizes 160-256 px), with
    two training images copied byte for byte into Testing, as the real set has such duplicates.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder = Path(data_dir) / "brain_tumor_mri"
    written = []
    for split, count in (("Training", train_per_class), ("Testing", test_per_class)):
        for label in BRAIN_TUMOR_CLASSES:
            class_folder = folder / split / label
            class_folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                size = int(rng.integers(160, 257))
                image = Image.fromarray(_synthetic_brain_slice(rng, size, label))
                if index % 7 == 3:
                    image = image.convert("RGB")  # the real set mixes grey and RGB-encoded files
                suffix = ".png" if index % 11 == 5 else ".jpg"
                name = f"{split[:2]}-{label[:2]}_{index:04d}{suffix}"
                image.save(class_folder / name)
                written.append(class_folder / name)
    for label in ("glioma", "pituitary"):  # planted leakage: exact copies of training files in Testing
        source = folder / "Training" / label / f"Tr-{label[:2]}_0000.jpg"
        (folder / "Testing" / label / f"Te-{label[:2]}_copy.jpg").write_bytes(source.read_bytes())
        written.append(folder / "Testing" / label / f"Te-{label[:2]}_copy.jpg")
    _write_manifest(
        folder,
        title="Synthetic brain-MRI slices (sample data, not the Kaggle Brain Tumor MRI set)",
        stands_in_for="brain_tumor_mri",
        description=("Computer-generated axial 'slices' (skull, textured brain, ventricles) with a class-specific "
                     "bright mass: glioma inside a hemisphere, meningioma against the skull, pituitary at the skull "
                     "base, none for notumor. For demos and tests only: numbers measured on it are not results."),
        names=[str(path.relative_to(folder)) for path in written],
    )
    return folder


SAMPLE_WRITERS["brain_tumor_mri"] = write_brain_tumor_samples


def _write_default_medmnist_samples(data_dir=SAMPLES_DIR):
    """The course's MedMNIST sets (RetinaMNIST, ChestMNIST, NoduleMNIST3D, AdrenalMNIST3D 28 and 64) as samples."""
    # Imported here: common.datasets.medmnist imports this module for _write_manifest and SAMPLES_DIR.
    from common.datasets.medmnist import write_medmnist_samples

    return write_medmnist_samples(data_dir)


SAMPLE_WRITERS["medmnist"] = _write_default_medmnist_samples
