"""Assignment 2's data: SPECT images from the synthetic phantoms, a class-folder tree or a CSV manifest, each
reduced to one 2D grey image, cropped around the located striatum and split into training and test cases.

Shapes: a read image is float32 (rows, columns) in the file's grey levels, in radiological view (anterior at the
top, the patient's right on the left) for volumes; crops are float32 (N, crop_size, crop_size, 1), still in
grey levels. Intensity normalisation (``normalize``) comes later, inside the training code, because the
"dataset" variant must take its statistics from the training images of each fold only.
"""

import collections
import dataclasses
import sys
import warnings
from pathlib import Path

import numpy as np

from common.datasets.class_folders import list_labelled_cases
from common.datasets.files import DataError, read_sample_manifest
from common.datasets.image_folders import IMAGE_SUFFIXES
from common.datasets.samples import ensure_samples
from common.datasets.splits import class_weights, stratified_split
from common.datasets.synthetic_spect import SPECT_FOLDER, ras_to_display
from common.volume_preprocess import resample

VOLUME_SUFFIXES = (".nii", ".nii.gz")
# The image axis that runs left <-> right in a crop (H, W, C).
LEFT_RIGHT_AXIS = 1
# Every class needs a test case and at least two training cases (two folds of cross-validation).
MIN_CASES_PER_CLASS = 3


@dataclasses.dataclass
class SpectData:
    """Cropped images and their split.

    images: float32 (N, crop_size, crop_size, 1), grey levels (not normalised).
    labels: int64 (N,), indices into ``class_names``.
    train_index, test_index: int arrays partitioning range(N) (stratified; the test part is used once).
    centres: float (N, 2), the located striatum centre (row, column) in each (resized) source image.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list
    paths: list
    train_index: np.ndarray
    test_index: np.ndarray
    centres: np.ndarray
    image_shape: tuple  # (rows, columns) every source image had (after resizing)
    title: str  # what the data is, for the report
    source: str
    sample: dict | None  # the sample-data manifest, or None for real data
    skipped: list  # (path, reason) of unreadable files
    resized: list  # (path, original (rows, columns)) of images resized to image_shape
    formats: dict  # file kind -> count
    examples: list  # (class name, source image, centre) of the first training case of each class

    @property
    def task(self):
        return "binary" if len(self.class_names) == 2 else "multi-class"

    @property
    def dataset(self):
        """The name result rows carry."""
        return "spect-phantoms-synthetic" if self.sample else "spect"

    def counts(self, index=None):
        """Cases per class, over all cases or the cases ``index``."""
        labels = self.labels if index is None else self.labels[index]
        return np.bincount(labels, minlength=len(self.class_names)).tolist()

    def describe(self):
        """One line: what the data is, its classes and the split."""
        composition = ", ".join(f"{count} {name}" for name, count in zip(self.class_names, self.counts()))
        return (f"{self.title}: {len(self.labels)} images ({composition}); {len(self.train_index)} train / "
                f"{len(self.test_index)} test")

    def summary(self):
        """What metrics.json records about the data."""
        return {"title": self.title, "source": self.source, "sample": bool(self.sample), "task": self.task,
                "class_names": self.class_names, "class_counts": self.counts(),
                "train_counts": self.counts(self.train_index), "test_counts": self.counts(self.test_index),
                "image_shape": list(self.image_shape), "crop_size": int(self.images.shape[1]),
                "formats": self.formats, "skipped_files": self.skipped, "resized_files": self.resized}


# --------------------------------------------------------------------------------------------- listing


def is_spect_case(path):
    """A case of a class folder: an image file, a ``.nii``/``.nii.gz`` volume, a ``.dcm`` file or a folder holding
    one DICOM series."""
    name = path.name.lower()
    return path.is_dir() or name.endswith(VOLUME_SUFFIXES) or path.suffix.lower() in IMAGE_SUFFIXES


def list_cases(source, class_names=None):
    """The cases under ``source`` and their labels: (paths, labels int64 (N,), class_names).

    ``source`` is a folder laid out as ``root/<class>/<case>`` (see ``is_spect_case``) or a CSV file with the
    columns ``path,label``.

    Raises:
        DataError: the source is missing or malformed, a class folder is missing or empty, or there are fewer
            than two classes.
    """
    return list_labelled_cases(source, is_spect_case, f"images ({', '.join(IMAGE_SUFFIXES)}, .nii.gz or DICOM "
                                                      "series folders)", class_names)


# --------------------------------------------------------------------------------------------- reading


def volume_to_image(array_xyz, slices=5):
    """Reduce a RAS+ volume (X, Y, Z) to one axial image: the mean of ``slices`` axial slices centred on the
    slice with the brightest uptake (after light smoothing, the striatum), in radiological view (rows, columns).

    A volume with one slice is that slice. Averaging neighbouring slices, as readers of DaTscans do, also
    averages away part of the noise.
    """
    from scipy.ndimage import gaussian_filter

    array = np.asarray(array_xyz, dtype=np.float32)
    if array.ndim != 3:
        raise ValueError(f"expected a volume (X, Y, Z), got shape {array.shape}.")
    depth = array.shape[2]
    if depth > 1:
        smoothed = gaussian_filter(array, (1.5, 1.5, 0.0))
        peak = int(np.argmax(smoothed.reshape(-1, depth).max(axis=0)))
        low = min(max(0, peak - slices // 2), max(0, depth - slices))
        array = array[:, :, low:low + slices]
    return ras_to_display(array.mean(axis=2))


def read_spect_image(path, volume_slices=5):
    """Read one case as float32 (rows, columns) grey levels.

    PNG / JPEG / BMP / TIFF files are read as grey (RGB is converted); ``.nii``/``.nii.gz`` files, ``.dcm``
    files (one slice or multi-frame) and DICOM series folders are read with ``common.datasets.volumes`` and
    reduced with ``volume_to_image``.

    Raises:
        DataError: the file cannot be read (the message names it).
    """
    from common.datasets.volumes import VolumeWarning, load_volume

    path = Path(path)
    name = path.name.lower()
    if path.is_dir() or name.endswith(VOLUME_SUFFIXES) or name.endswith(".dcm"):
        with warnings.catch_warnings():
            # A 2D DICOM file is a volume of one slice; the loader's notice about that is expected here.
            warnings.filterwarnings("ignore", message=".*single slice", category=VolumeWarning)
            volume = load_volume(path, min_slices=1)
        return volume_to_image(volume.array, volume_slices)
    from PIL import Image

    try:
        with Image.open(path) as opened:
            opened.load()
            image = opened if opened.mode in ("L", "I", "I;16", "F") else opened.convert("L")
            array = np.asarray(image, dtype=np.float32)
    except Exception as error:  # PIL raises many types for a bad file
        raise DataError(f"{path} cannot be read as an image ({type(error).__name__}: {error}).") from None
    if array.ndim != 2:
        raise DataError(f"{path} decodes to shape {array.shape}, not a grey image.")
    return array


def volume_cases(data):
    """The cases of ``data`` (a ``SpectData``) stored as 3D volumes, NIfTI files and DICOM series folders, as
    (path, class name) pairs in reading order; single-slice ``.dcm`` files are 2D images and are left out.
    ``common.datasets.volumes.load_volume(path)`` reads one in RAS+ orientation, as ``read_spect_image`` does."""
    return [(path, data.class_names[label]) for path, label in zip(data.paths, data.labels)
            if Path(path).is_dir() or path.lower().endswith(VOLUME_SUFFIXES)]


# ------------------------------------------------------------------------------------ crop and normalise


def locate_striatum(image, sigma=3.0, threshold=0.5):
    """The (row, column) centre of the striatum: the intensity-weighted centroid of the brightest region.

    The image is smoothed with a Gaussian of ``sigma`` px (so noise does not form bright specks); the region is
    every pixel above median + ``threshold`` * (max - median), weighted by how far it rises above that level.
    Both striata usually pass, so the centre falls between them, near the midline.
    """
    from scipy.ndimage import gaussian_filter

    smoothed = gaussian_filter(np.asarray(image, dtype=np.float64), sigma)
    median, peak = np.median(smoothed), smoothed.max()
    if peak <= median:  # a flat image: its centre
        return (image.shape[0] - 1) / 2.0, (image.shape[1] - 1) / 2.0
    weights = np.clip(smoothed - (median + threshold * (peak - median)), 0.0, None)
    rows, columns = np.indices(image.shape)
    total = weights.sum()
    return float((rows * weights).sum() / total), float((columns * weights).sum() / total)


def crop_around(image, centre, size):
    """A ``size`` x ``size`` crop of ``image`` (rows, columns) centred on ``centre``; parts that fall outside the
    image are filled with its lowest value (SPECT background)."""
    # TODO: the crop: its top-left corner is centre - size / 2, rounded to whole pixels; pad the image by size
    #       pixels on every side with its minimum (np.pad) so that a crop near the border stays size x size, and
    #       return the size x size window of the padded image (remember the padding shifts every index by size).
    # BEGIN SOLUTION
    top = int(round(centre[0] - size / 2.0))
    left = int(round(centre[1] - size / 2.0))
    padded = np.pad(image, size, mode="constant", constant_values=float(image.min()))
    return padded[top + size:top + 2 * size, left + size:left + 2 * size]
    # END SOLUTION


def normalize(images, mode, reference=None, scale=None):
    """Scale crops (N, H, W, 1) to about [0, 1].

    "per_image": each crop divided by its own 99.5th percentile (its striatal peak): uptake relative to the
    image itself, independent of injected dose, scan time and scanner gain.
    "dataset": every crop divided by the 99.5th percentile of all pixels of ``reference`` (the training
    crops), or by ``scale`` (that divisor, as a run recorded it): differences in absolute level between cases
    are kept.

    Returns:
        (float32 array like ``images``, the divisor used: a float for "dataset", None for "per_image").
    """
    images = np.asarray(images, dtype=np.float32)
    if mode not in ("per_image", "dataset"):
        raise ValueError(f"normalisation must be per_image or dataset, not {mode!r}.")
    if mode == "dataset" and scale is None and reference is None:
        raise ValueError("dataset normalisation needs the training images as reference, or their scale.")
    # TODO: the two normalisations. "per_image": divide each crop by its own 99.5th percentile (np.percentile
    #       over each crop's pixels, at least 1e-6) and return (images, None). "dataset": the divisor is
    #       ``scale`` if given, else the 99.5th percentile of all pixels of ``reference`` (at least 1e-6);
    #       return (images / divisor, divisor as a float).
    # BEGIN SOLUTION
    if mode == "per_image":
        per_crop = np.percentile(images.reshape(len(images), -1), 99.5, axis=1).reshape(-1, 1, 1, 1)
        return images / np.maximum(per_crop, 1e-6), None
    scale = max(float(np.percentile(reference, 99.5)), 1e-6) if scale is None else float(scale)
    return images / scale, scale
    # END SOLUTION


def crop_cases(images, config):
    """Locate the striatum in every image (rows, columns) and crop around it: (crops float32 (N, S, S, 1) in
    grey levels, centres float (N, 2))."""
    centres = np.array([locate_striatum(image, config.locate_sigma, config.locate_threshold) for image in images])
    crops = np.stack([crop_around(image, centre, config.crop_size) for image, centre in zip(images, centres)])
    return crops[..., None].astype(np.float32), centres


def read_new_cases(source, config, class_names, image_shape):
    """Cases a trained model never saw (the instructor's hidden test set), prepared as its run prepared its own:
    read, brought to the run's image size ``image_shape`` (rows, columns), cropped. ``source`` is laid out as
    for ``list_cases``, with the run's ``class_names``. Returns (crops float32 (N, S, S, 1), labels int64 (N,)).

    Raises:
        DataError: a missing class folder or an unreadable case (the message names it).
    """
    paths, labels, _ = list_cases(source, class_names)
    images = [read_spect_image(path, config.volume_slices) for path in paths]
    shape = tuple(image_shape)
    images = [image if image.shape == shape else resample(image, shape) for image in images]
    return crop_cases(images, config)[0], labels


# ------------------------------------------------------------------------------------------- imbalance


def oversample_indices(labels, seed=0):
    """Indices that repeat random members of the smaller classes until every class is as frequent as the
    largest: every original index once, plus draws with replacement; shuffled. int64 (K * max count,)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    # TODO: random oversampling with rng: for each class, every index of its members once plus
    #       (largest class count - its count) members drawn with replacement (rng.choice); return all of them
    #       in one random order (rng.permutation) as int64.
    # BEGIN SOLUTION
    largest = np.bincount(labels).max()
    picks = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        picks += [members, rng.choice(members, size=largest - len(members), replace=True)]
    return rng.permutation(np.concatenate(picks)).astype(np.int64)
    # END SOLUTION


def training_dataset(x, y, num_classes, imbalance, config, seed):
    """Shuffled, augmented batches of (x, one-hot y, sample weight) for one training run.

    "oversampling" repeats random cases of the smaller classes (weights 1); "class_weight" keeps the cases and
    weights each by its class's inverse frequency, which is exactly what Keras's ``class_weight`` does, written
    out so that both strategies feed one compiled training step.
    """
    from common.augment import augmented_dataset
    from common.tf_setup import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    # TODO: the imbalance handling: the cases to train on (index) and a float32 weight per case. "oversampling":
    #       index = oversample_indices(y, seed), every weight 1. "class_weight": every case once, each weighted
    #       by its class's weight from class_weights(y, num_classes).
    # BEGIN SOLUTION
    if imbalance == "oversampling":
        index = oversample_indices(y, seed)
        weights = np.ones(len(index), np.float32)
    else:
        index = np.arange(len(y))
        per_class = class_weights(y, num_classes)
        weights = np.array([per_class[label] for label in y], np.float32)
    # END SOLUTION
    x, one_hot = x[index], np.eye(num_classes, dtype=np.float32)[y[index]]
    if config.augment:
        flips = (LEFT_RIGHT_AXIS,) if config.flip_left_right else ()
        dataset = augmented_dataset(x, (one_hot, weights), config.batch_size, seed, flip_axes=flips,
                                    max_shift=config.max_shift, intensity_jitter=config.intensity_jitter,
                                    max_rotation=config.max_rotation)
    else:
        dataset = (tf.data.Dataset.from_tensor_slices((x, (one_hot, weights)))
                   .shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(config.batch_size))
    return dataset.map(lambda image, target: (image, target[0], target[1])).prefetch(tf.data.AUTOTUNE)


# ------------------------------------------------------------------------------------------- loading


def _read_all(paths, labels, class_names, volume_slices):
    images, kept, skipped, formats = [], [], [], collections.Counter()
    for index, path in enumerate(paths):
        try:
            images.append(read_spect_image(path, volume_slices))
        except DataError as error:
            skipped.append((str(path), str(error)))
            print(f"warning: skipped {path}: {error}", file=sys.stderr)
            continue
        kept.append(index)
        kind = "DICOM series" if path.is_dir() else ".nii.gz" if path.name.lower().endswith(".nii.gz") else None
        formats[kind or path.suffix.lower()] += 1
    kept_labels = labels[kept]
    counts = np.bincount(kept_labels, minlength=len(class_names))
    for label, name in enumerate(class_names):
        if counts[label] < MIN_CASES_PER_CLASS:
            raise DataError(f"class {name!r} has {counts[label]} readable case(s); every class needs at least "
                            f"{MIN_CASES_PER_CLASS} (one for the test set, two for 2-fold cross-validation). Add "
                            "cases or leave the class out (--class-names).")
    return images, kept, skipped, dict(formats)


def _common_size(images, paths, policy):
    """Bring every image to the most common size; returns (images, shape, [(path, original shape)])."""
    shapes = collections.Counter(image.shape for image in images)
    shape = shapes.most_common(1)[0][0]
    odd = [(str(path), image.shape) for image, path in zip(images, paths) if image.shape != shape]
    if odd:
        examples = "; ".join(f"{path} ({rows}x{columns})" for path, (rows, columns) in odd[:5])
        if policy == "error":
            raise DataError(f"{len(odd)} image(s) differ from the most common size {shape[0]}x{shape[1]} "
                            f"(rows x columns), e.g. {examples}. Resample them to one size, or pass "
                            "--size-mismatch resize to resize them here.")
        print(f"warning: {len(odd)} image(s) are not {shape[0]}x{shape[1]} (rows x columns) like the rest and were "
              f"resized to it (the crop must cover the same field of view in every image): {examples}",
              file=sys.stderr)
        images = [image if image.shape == shape else resample(image, shape) for image in images]
    return images, shape, odd


def load_spect_data(config):
    """Read, crop and split the images of ``config.data`` (a folder or CSV), or of the synthetic phantoms when it is
    empty; returns ``SpectData``.

    Raises:
        DataError: missing or unusable data; the message names the file or class and the fix.
    """
    if not config.data:
        source = ensure_samples("spect_phantoms", class_counts=tuple(config.synthetic_counts),
                                shape=tuple(config.synthetic_shape), volume_every=config.synthetic_volume_every
                                ) / SPECT_FOLDER
    else:
        source = Path(config.data).expanduser()
        if not source.exists():
            raise DataError(f"--data {config.data}: no such folder or CSV file. Give a folder laid out as "
                            "root/<stage>/*.png (or .dcm, .nii.gz, DICOM series folders), or a CSV with the columns "
                            "path,label.")
    paths, labels, class_names = list_cases(source, config.class_names or None)
    images, kept, skipped, formats = _read_all(paths, labels, class_names, config.volume_slices)
    paths, labels = [paths[index] for index in kept], labels[kept]
    images, shape, resized = _common_size(images, paths, config.size_mismatch)
    crops, centres = crop_cases(images, config)
    train, test = stratified_split(labels, config.test_fraction, seed=config.seed)
    examples = []
    for label, name in enumerate(class_names):
        first = train[labels[train] == label][0]
        examples.append((name, images[first], centres[first]))
    manifest = read_sample_manifest(source if source.is_dir() else source.parent)
    title = manifest["title"] if manifest else f"your images in {source}"
    return SpectData(crops, labels, class_names, [str(p) for p in paths], train, test,
                     centres, tuple(shape), title, str(source), manifest, skipped, resized, formats, examples)
