"""Synthetic grey brain-MRI slices in the Kaggle Brain Tumor MRI layout (sample data, not the Kaggle set).

``write_brain_tumor_samples`` writes ``brain_tumor_mri/{Training,Testing}/<class>/*.jpg`` (a few PNGs and RGB
JPEGs too, sizes 160-256 px) for the four classes glioma, meningioma, notumor and pituitary, and copies two
training images byte for byte into Testing, as the real set has such duplicates.
"""

from pathlib import Path

import numpy as np

from common.datasets.files import SAMPLES_DIR, write_sample_manifest

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
    write_sample_manifest(
        folder,
        title="Synthetic brain-MRI slices (sample data, not the Kaggle Brain Tumor MRI set)",
        stands_in_for="brain_tumor_mri",
        description=("Computer-generated axial 'slices' (skull, textured brain, ventricles) with a class-specific "
                     "bright mass: glioma inside a hemisphere, meningioma against the skull, pituitary at the skull "
                     "base, none for notumor. For demos and tests only: numbers measured on it are not results."),
        names=[str(path.relative_to(folder)) for path in written],
    )
    return folder
