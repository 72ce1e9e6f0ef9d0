"""Segmentation data on disk: 2D images with their masks, or 3D volumes with label volumes.

Two layouts:

- **2D pairs:** ``root/images/`` and ``root/masks/`` (or ``root/labels/``, as the ISBI 2012 folder has), files
  paired by name (``images/7.png`` with ``masks/7.png``; the suffixes may differ). Images are read as grey;
  masks hold class indices 0..K-1, or 0 / 255 for a binary mask (255 becomes 1).
- **The Medical Segmentation Decathlon layout:** ``root/imagesTr/<case>.nii.gz`` and
  ``root/labelsTr/<case>.nii.gz`` (the same name), read with ``common.datasets.volumes`` (RAS+). The class
  names come from ``root/dataset.json`` (its ``"labels"``, e.g. ``{"0": "background", "1": "Anterior"}``)
  where the folder has one.

``load_segmentation_folder(root)`` reads either and returns a ``SegmentationData``; every problem (an image
without a mask, shapes that differ, label values that are not class indices) is a ``DataError`` that names
the file and the fix.
"""

import dataclasses
import json
import re
from pathlib import Path

import numpy as np

from common.datasets.files import DataError
from common.datasets.image_folders import IMAGE_SUFFIXES

MASK_FOLDERS = ("masks", "labels")
NIFTI_SUFFIXES = (".nii.gz", ".nii")


@dataclasses.dataclass
class SegmentationData:
    """Images (N, H, W) or volumes (N, D, H, W), float32, with masks of the same shape (int64 class indices).

    ``images`` and ``masks`` are lists when the cases differ in size (volumes), else stacked arrays. ``names``
    are the case names (file stems) in the order read (natural order: 2 before 10).
    """

    images: list
    masks: list
    names: list
    layout: str  # "2d" or "decathlon"
    num_classes: int
    root: Path
    class_names: list | None = None  # from a Decathlon folder's dataset.json; None where the folder names none

    @property
    def dimensions(self):
        return 2 if self.layout == "2d" else 3


def _stem(path):
    name = path.name
    for suffix in (*NIFTI_SUFFIXES, *IMAGE_SUFFIXES):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def natural_key(name):
    """Sort key putting "2" before "10"."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _pairs(image_folder, mask_folder, is_case):
    images = {_stem(path): path for path in image_folder.iterdir() if is_case(path)}
    masks = {_stem(path): path for path in mask_folder.iterdir() if is_case(path)}
    if not images:
        raise DataError(f"{image_folder} holds no image files; put the images there, each with a mask of the same "
                        f"name in {mask_folder}.")
    lonely = sorted(set(images) - set(masks), key=natural_key)
    if lonely:
        raise DataError(f"{images[lonely[0]]} has no mask in {mask_folder} (looked for {lonely[0]}.*); "
                        f"{len(lonely)} image(s) without a mask. Every image needs a mask of the same name.")
    extra = sorted(set(masks) - set(images), key=natural_key)
    if extra:
        raise DataError(f"{masks[extra[0]]} has no image in {image_folder}; {len(extra)} mask(s) without an image. "
                        "Remove them or add their images.")
    names = sorted(images, key=natural_key)
    return names, [images[name] for name in names], [masks[name] for name in names]


def mask_classes(mask, path):
    """A mask's values as class indices: 0 / 255 becomes 0 / 1; otherwise the values must be whole numbers
    0..K-1 (at most 255)."""
    values = np.unique(mask)
    if set(values.tolist()) <= {0, 255}:
        return (np.asarray(mask) == 255).astype(np.int64)
    if not np.all(values == np.round(values)) or values.min() < 0 or values.max() > 254:
        raise DataError(f"{path}: mask values {values[:8].tolist()} are not class indices; a mask holds 0..K-1 "
                        "(or 0 and 255 for a binary mask).")
    return np.asarray(mask).astype(np.int64)


def _read_grey(path, mask=False):
    """A grey image as an array; a mask in palette mode ("P", as VOC-style masks are) keeps its palette indices,
    which are its class indices."""
    from PIL import Image

    try:
        with Image.open(path) as opened:
            opened.load()
            kept = ("L", "I", "I;16", "F", "P") if mask else ("L", "I", "I;16", "F")
            image = opened if opened.mode in kept else opened.convert("L")
            return np.asarray(image)
    except Exception as error:  # PIL raises many types for a bad file
        raise DataError(f"{path} cannot be read as an image ({type(error).__name__}: {error}).") from None


def _is_image(path):
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def _is_nifti(path):
    return path.is_file() and path.name.lower().endswith(NIFTI_SUFFIXES) and not path.name.startswith(".")


def _load_2d(root, mask_folder):
    names, image_paths, mask_paths = _pairs(root / "images", mask_folder, _is_image)
    images, masks = [], []
    for image_path, mask_path in zip(image_paths, mask_paths):
        image, mask = _read_grey(image_path), _read_grey(mask_path, mask=True)
        if image.shape != mask.shape:
            raise DataError(f"{mask_path} is {mask.shape[0]}x{mask.shape[1]} but its image {image_path} is "
                            f"{image.shape[0]}x{image.shape[1]}; a mask must have its image's size.")
        scale = 65535.0 if image.dtype == np.uint16 else 255.0 if image.dtype == np.uint8 else max(image.max(), 1)
        images.append(image.astype(np.float32) / np.float32(scale))
        masks.append(mask_classes(mask, mask_path))
    return names, images, masks


def _load_decathlon(root):
    from common.datasets.volumes import load_volume

    names, image_paths, mask_paths = _pairs(root / "imagesTr", root / "labelsTr", _is_nifti)
    images, masks = [], []
    for image_path, mask_path in zip(image_paths, mask_paths):
        image, mask = load_volume(image_path), load_volume(mask_path)
        if image.array.shape != mask.array.shape:
            raise DataError(f"{mask_path} has shape {mask.array.shape} but its image {image_path} has "
                            f"{image.array.shape}; a label volume must have its image's grid.")
        array = image.array.astype(np.float32)
        low, high = np.percentile(array, (0.5, 99.5))
        images.append(np.clip((array - low) / max(high - low, 1e-6), 0.0, 1.0).astype(np.float32))
        masks.append(mask_classes(np.rint(mask.array), mask_path))
    return names, images, masks


def decathlon_class_names(root):
    """The class names in ``root/dataset.json`` (``"labels": {"0": name, ...}``), in class order; None without
    the file. Raises ``DataError`` for a file that is not such JSON."""
    path = Path(root) / "dataset.json"
    if not path.is_file():
        return None
    try:
        labels = json.loads(path.read_text())["labels"]
        return [str(labels[key]) for key in sorted(labels, key=int)]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(f"{path} cannot be read as a Decathlon dataset.json with \"labels\" ({error}); fix it "
                        "or move it aside (the classes are then called class_0, class_1, ...).") from None


def load_segmentation_folder(root):
    """Read a 2D-pairs or Decathlon-layout folder (see the module docstring) as ``SegmentationData``.

    Images are scaled to [0, 1]: 8-bit images by 255, volumes by their 0.5th-99.5th percentile window.

    Raises:
        DataError: the folder has neither layout, or a pair is missing, mismatched or unreadable.
    """
    root = Path(root).expanduser()
    if (root / "imagesTr").is_dir() and (root / "labelsTr").is_dir():
        layout, (names, images, masks) = "decathlon", _load_decathlon(root)
    else:
        mask_folder = next((root / name for name in MASK_FOLDERS if (root / name).is_dir()), None)
        if not (root / "images").is_dir() or mask_folder is None:
            raise DataError(f"{root} has neither images/ with masks/ (or labels/) nor the Decathlon layout "
                            "imagesTr/ with labelsTr/. Put each image in images/ and its mask, with the same "
                            "name, in masks/.")
        layout, (names, images, masks) = "2d", _load_2d(root, mask_folder)
    num_classes = int(max(mask.max() for mask in masks)) + 1
    present = set().union(*(np.unique(mask).tolist() for mask in masks))
    if present != set(range(num_classes)):
        first = next(name for name, mask in zip(names, masks) if mask.max() == num_classes - 1)
        missing = sorted(set(range(num_classes)) - present)
        raise DataError(f"{root}: the masks hold the values {sorted(present)[:8]} (e.g. the mask of case {first}), "
                        f"so classes {missing[0]}..{missing[-1]} never occur: masks hold class indices 0..K-1, or 0 "
                        "and 255 for a binary mask.")
    if num_classes < 2:
        raise DataError(f"{root}: every mask is empty (only class 0); a segmentation needs at least two classes.")
    if len({image.shape for image in images}) == 1:
        images, masks = np.stack(images), np.stack(masks)
    class_names = decathlon_class_names(root) if layout == "decathlon" else None
    if class_names is not None and len(class_names) < num_classes:
        raise DataError(f"{root / 'dataset.json'} names {len(class_names)} classes, but the masks hold "
                        f"{num_classes} (0..{num_classes - 1}); list every label value under \"labels\".")
    return SegmentationData(images, masks, names, layout, max(num_classes, 2), root, class_names)
