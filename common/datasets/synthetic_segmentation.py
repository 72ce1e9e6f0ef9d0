"""Synthetic stand-ins for the segmentation data, in the real sets' layouts (sample data, never results).

- ``write_em_samples(root)``: ``root/isbi2012_em/images/<N>.png`` and ``labels/<N>.png`` like the ISBI 2012
  slices: cells of a random Voronoi tessellation, grey textured interiors separated by dark membranes a few
  pixels wide, blurred and noisy as an electron micrograph; labels 255 = cell, 0 = membrane.
- ``write_decathlon_samples(root)``: ``root/msd_hippocampus/Task04_Hippocampus/imagesTr/<case>.nii.gz`` and
  ``labelsTr/<case>.nii.gz`` like the Decathlon's hippocampus task: a bright curved structure in a noisy MRI-like
  volume, labelled 1 (anterior half) and 2 (posterior half), 0 elsewhere.
"""

import json
from pathlib import Path

import numpy as np

from common.datasets.files import write_sample_manifest

EM_FOLDER = "isbi2012_em"
DECATHLON_FOLDER = "msd_hippocampus"
DECATHLON_TASK = "Task04_Hippocampus"


def em_slice(size, cells, membrane_width, rng):
    """One synthetic EM slice: (image uint8 (size, size), label uint8 with 255 = cell, 0 = membrane)."""
    from scipy.ndimage import gaussian_filter
    from scipy.spatial import cKDTree

    seeds = rng.uniform(0, size, (cells, 2))
    rows, columns = np.mgrid[0:size, 0:size]
    distances, _ = cKDTree(seeds).query(np.stack([rows.ravel(), columns.ravel()], 1), k=2)
    gap = (distances[:, 1] - distances[:, 0]).reshape(size, size)
    membrane = gap < membrane_width
    texture = gaussian_filter(rng.normal(0.0, 1.0, (size, size)), 2.0)
    image = np.where(membrane, 0.25, 0.65 + 0.08 * texture / max(texture.std(), 1e-6))
    image = gaussian_filter(image, 1.0) + rng.normal(0.0, 0.06, (size, size))
    return (np.clip(image, 0, 1) * 255).astype(np.uint8), np.where(membrane, 0, 255).astype(np.uint8)


def write_em_samples(root, count=12, size=128, seed=0):
    """Write ``count`` synthetic EM slices of ``size`` px into ``root/isbi2012_em/``; returns the folder."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder = Path(root) / EM_FOLDER
    names = []
    for index in range(count):
        image, label = em_slice(size, cells=max(8, size * size // 900), membrane_width=2.5, rng=rng)
        for kind, array in (("images", image), ("labels", label)):
            (folder / kind).mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(folder / kind / f"{index}.png")
            names.append(f"{kind}/{index}.png")
    write_sample_manifest(folder, "SAMPLE DATA: synthetic EM slices (Voronoi cells), not the ISBI 2012 set",
                          "isbi2012_em", f"{count} slices of {size}x{size} px, labels 255 = cell, 0 = membrane",
                          names)
    return folder


def decathlon_case(shape, rng):
    """One synthetic volume (X, Y, Z) float32 and its labels uint8 (1 anterior, 2 posterior, 0 background)."""
    from scipy.ndimage import gaussian_filter

    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, size) for size in shape], indexing="ij"))
    centre = rng.uniform(-0.15, 0.15, 3)
    radii = np.array([0.35, 0.6, 0.3]) * rng.uniform(0.85, 1.15, 3)
    # A banana-shaped structure: an ellipsoid whose X centre bends with Y.
    bend = 0.25 * (grid[1] - centre[1]) ** 2
    inside = (((grid[0] - centre[0] - bend) / radii[0]) ** 2 + ((grid[1] - centre[1]) / radii[1]) ** 2
              + ((grid[2] - centre[2]) / radii[2]) ** 2) <= 1.0
    labels = np.where(inside, np.where(grid[1] > centre[1], 1, 2), 0).astype(np.uint8)
    image = 0.3 + 0.4 * inside + 0.05 * (labels == 1) + gaussian_filter(rng.normal(0, 0.15, shape), 1.0)
    return (image * 1000).astype(np.float32), labels


def write_decathlon_samples(root, count=10, shape=(24, 32, 24), seed=0):
    """Write ``count`` synthetic cases in the Decathlon layout under
    ``root/msd_hippocampus/Task04_Hippocampus/``; returns that folder."""
    import nibabel

    rng = np.random.default_rng(seed)
    base = Path(root) / DECATHLON_FOLDER
    folder = base / DECATHLON_TASK
    names = []
    for index in range(count):
        image, labels = decathlon_case(shape, rng)
        for kind, array in (("imagesTr", image), ("labelsTr", labels)):
            (folder / kind).mkdir(parents=True, exist_ok=True)
            name = f"{kind}/hippocampus_{index:03d}.nii.gz"
            nibabel.save(nibabel.Nifti1Image(array, np.eye(4)), folder / name)
            names.append(f"{DECATHLON_TASK}/{name}")
    # The Decathlon's own description file, with the hippocampus task's label names.
    (folder / "dataset.json").write_text(json.dumps({"name": "Hippocampus (synthetic stand-in)", "labels": {
        "0": "background", "1": "anterior", "2": "posterior"}, "numTraining": count}, indent=1))
    write_sample_manifest(base, "SAMPLE DATA: synthetic volumes in the Decathlon layout, not the hippocampus task",
                          "msd_hippocampus", f"{count} volumes of {shape}, labels 1 anterior, 2 posterior",
                          names)
    return folder
