"""Image classification data laid out as one folder per class: ``root/<class>/<image files>``.

``load_image_folder`` reads every image once (in parallel threads), converts it to grey or RGB, resizes it
to one square size and returns NumPy arrays, so that training never decodes a file again and a corrupt
file is found before the first epoch, not at epoch 7. Unreadable files are reported by path and skipped;
a class folder with no readable image is an error. JPEG, PNG, BMP, TIFF and DICOM (``.dcm``) files are read.
"""

import dataclasses
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from common.datasets.class_folders import list_class_folders
from common.datasets.files import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".dcm")


@dataclasses.dataclass
class ImageFolderData:
    """Images of one split.

    images: uint8 array of shape (N, size, size, channels).
    labels: int64 array of shape (N,), indices into class_names.
    paths: the source file of each image.
    skipped: (path, reason) for every file that could not be read.
    """

    images: np.ndarray
    labels: np.ndarray
    paths: list
    class_names: list
    skipped: list


def is_image_file(path):
    """A case of an image class folder: a file with one of ``IMAGE_SUFFIXES``."""
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def list_image_folder(root, class_names=None):
    """The image files under ``root/<class>/`` and their labels.

    Args:
        root: the split folder (e.g. ``brain_tumor_mri/Training``).
        class_names: the expected class folders in label order; default: every sub-folder, sorted.

    Returns:
        (paths, labels, class_names).

    Raises:
        DataError: ``root`` is missing, a class folder is missing, or a class folder holds no image file.
    """
    return list_class_folders(root, is_image_file, f"image files ({', '.join(IMAGE_SUFFIXES)})", class_names)


def _dicom_to_uint8(path):
    import pydicom

    dataset = pydicom.dcmread(path)
    pixels = dataset.pixel_array.astype(np.float32)
    pixels = pixels * float(getattr(dataset, "RescaleSlope", 1)) + float(getattr(dataset, "RescaleIntercept", 0))
    if pixels.ndim == 3 and pixels.shape[-1] not in (3, 4):
        pixels = pixels[pixels.shape[0] // 2]  # a multi-frame file: its middle frame
    low, high = np.percentile(pixels, (0.5, 99.5))
    scaled = np.clip((pixels - low) / max(high - low, 1e-6), 0.0, 1.0)
    if getattr(dataset, "PhotometricInterpretation", "") == "MONOCHROME1":
        scaled = 1.0 - scaled  # MONOCHROME1 stores bright as low values
    return (scaled * 255).astype(np.uint8)


def read_image(path, image_size, channels=1):
    """Read one image file as uint8 of shape (image_size, image_size, channels).

    Raises:
        DataError: the file cannot be decoded as an image (the message names it).
    """
    from PIL import Image

    path = Path(path)
    try:
        if path.suffix.lower() == ".dcm":
            image = Image.fromarray(_dicom_to_uint8(path))
        else:
            with Image.open(path) as opened:
                opened.load()
                image = opened.copy()
        image = image.convert("L" if channels == 1 else "RGB")
        image = image.resize((image_size, image_size), Image.Resampling.BILINEAR)
    except Exception as error:  # PIL and pydicom raise many types for a bad file
        raise DataError(f"{path} cannot be read as an image ({type(error).__name__}: {error}).") from None
    array = np.asarray(image, dtype=np.uint8)
    return array[..., None] if channels == 1 else array


def load_image_folder(root, image_size, channels=1, class_names=None, workers=4):
    """Read a whole ``root/<class>/`` split; see the module docstring.

    Returns:
        An ``ImageFolderData``. Unreadable files are listed in ``skipped`` and reported on stderr.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), not {channels}.")
    paths, labels, class_names = list_image_folder(root, class_names)

    def attempt(path):
        try:
            return read_image(path, image_size, channels), None
        except DataError as error:
            return None, str(error)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(attempt, paths))
    keep = [index for index, (image, _) in enumerate(outcomes) if image is not None]
    skipped = [(str(paths[i]), reason) for i, (_, reason) in enumerate(outcomes) if reason is not None]
    for _, reason in skipped:
        print(f"warning: skipped {reason}", file=sys.stderr)
    kept_labels = labels[keep]
    for label, name in enumerate(class_names):
        if not np.any(kept_labels == label):
            raise DataError(f"No readable image is left for class {name!r} in {Path(root) / name}; "
                            f"{sum(1 for i in np.flatnonzero(labels == label))} file(s) were unreadable.")
    images = np.stack([outcomes[i][0] for i in keep]) if keep else np.zeros((0, image_size, image_size, channels),
                                                                               np.uint8)
    return ImageFolderData(images, kept_labels, [str(paths[i]) for i in keep], class_names, skipped)
