"""Assignment 6's data: images with masks (2D) or volumes with label volumes (3D), split and batched.

Shapes: images float32 (N, H, W, 1) or (N, D, H, W, 1) in [0, 1]; masks int64 (N, H, W) or (N, D, H, W) of class
indices. Volumes are padded (centred, with zeros and background) to one shape that the U-Net's poolings divide.

The split: a stack of serial sections (the ISBI slices, any 2D folder) is cut into contiguous runs, the last
``test_slices`` for testing and the ``val_slices`` before them for validation, because neighbouring sections
are nearly the same image: a random split would test on near-copies of training slices. Volumes are
independent cases and are split at random (seeded).
"""

import dataclasses
import shutil
import tarfile
from pathlib import Path

import numpy as np

from common.datasets.download import fetch_file
from common.datasets.files import DataError, read_sample_manifest
from common.datasets.registry import REGISTRY
from common.datasets.samples import ensure_samples
from common.datasets.segmentation_folders import load_segmentation_folder
from common.datasets.synthetic_segmentation import DECATHLON_FOLDER, DECATHLON_TASK, EM_FOLDER
from common.segmentation import augment_pair, random_crop

ISBI = REGISTRY["isbi2012_em"]
HIPPOCAMPUS = REGISTRY["msd_hippocampus"]


@dataclasses.dataclass
class SegmentationSplits:
    """Train / validation / test images and masks, and where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    names: dict  # split -> the case names (file stems)
    title: str  # what the data is, for the report
    source: str  # the folder read
    key: str  # the data set's name in the result rows
    sample: dict | None  # the sample-data manifest, or None for real data
    split: str  # how the split was made, for the report

    @property
    def dimensions(self):
        return self.x_train.ndim - 2

    @property
    def dataset(self):
        """The name result rows carry."""
        return f"{self.key}-sample-synthetic" if self.sample else self.key

    def summary(self):
        """What metrics.json records about the data."""
        fractions = np.bincount(self.y_train.ravel(), minlength=len(self.class_names)) / self.y_train.size
        return {"title": self.title, "source": self.source, "sample": bool(self.sample), "task": "segmentation",
                "class_names": self.class_names, "dimensions": self.dimensions, "split": self.split,
                "names": self.names, "image_shape": list(self.x_train.shape[1:-1]),
                "train_class_fractions": [round(float(value), 4) for value in fractions]}

    def describe(self):
        return (f"{self.title}: {len(self.x_train)} train / {len(self.x_val)} validation / {len(self.x_test)} test "
                f"{'slices' if self.dimensions == 2 else 'volumes'} of {tuple(self.x_train.shape[1:-1])}")


def _isbi_root(data_dir):
    """DATA_DIR/isbi2012_em with every slice checked against its MD5 (placed by hand; see the registry)."""
    for remote in ISBI.files:
        fetch_file(ISBI, remote.name, data_dir, download=False)
    return Path(data_dir) / ISBI.folder


def _hippocampus_root(data_dir):
    """DATA_DIR/msd_hippocampus/Task04_Hippocampus, downloading (MD5-checked) and unpacking the archive once."""
    folder = Path(data_dir) / HIPPOCAMPUS.folder
    task = folder / DECATHLON_TASK
    if not (task / "imagesTr").is_dir():
        archive = fetch_file(HIPPOCAMPUS, "Task04_Hippocampus.tar", data_dir)
        # Unpacked beside the archive and renamed into place when complete: an interrupted unpacking leaves
        # only the .partial folder, which the next run replaces.
        partial = folder / f"{DECATHLON_TASK}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(archive) as bundle:
            members = [member for member in bundle.getmembers() if member.name.startswith(DECATHLON_TASK)
                       and not Path(member.name).name.startswith("._")]
            bundle.extractall(partial, members=members, filter="data")
        (partial / DECATHLON_TASK).rename(task)
        shutil.rmtree(partial)
    return task


def source_folder(config):
    """(folder, data-set key, class names or None) for ``config.data`` (a folder of the user's), or for the data
    set ``config.dataset`` when it is empty."""
    if not config.data:
        if config.dataset == "isbi2012_em":
            return _isbi_root(config.data_dir), "isbi2012_em", list(ISBI.class_names)
        if config.dataset == "sample":
            return ensure_samples("em_slices") / EM_FOLDER, "isbi2012_em", list(ISBI.class_names)
        if config.dataset == "msd_hippocampus":
            return _hippocampus_root(config.data_dir), "msd_hippocampus", list(HIPPOCAMPUS.class_names)
        return (ensure_samples("decathlon") / DECATHLON_FOLDER / DECATHLON_TASK, "msd_hippocampus",
                list(HIPPOCAMPUS.class_names))
    folder = Path(config.data).expanduser()
    if not folder.is_dir():
        raise DataError(f"--data {config.data}: no such folder. Give a folder with images/ and masks/ (2D, paired by "
                        "name) or imagesTr/ and labelsTr/ (the Decathlon layout).")
    return folder, folder.name, None


def pad_to(array, shape, value=0):
    """``array`` (S..., [C]) padded, centred, to the spatial ``shape`` with ``value``."""
    pads = [((size - length) // 2, size - length - (size - length) // 2) for size, length in zip(shape, array.shape)]
    pads += [(0, 0)] * (array.ndim - len(shape))
    return np.pad(array, pads, mode="constant", constant_values=value)


def common_shape(shapes, multiple, minimum):
    """The smallest shape holding every one of ``shapes``, each side a multiple of ``multiple``, at least
    ``minimum``."""
    largest = np.max(np.array(shapes), axis=0)
    return tuple(int(max(minimum, -(-side // multiple) * multiple)) for side in largest)


def prepare_cases(images, masks, dimensions, multiple, minimum):
    """Images with a channel axis and masks, volumes padded to one shape: (x float32, y int64)."""
    if dimensions == 2:
        if isinstance(images, list):
            shapes = {image.shape for image in images}
            raise DataError(f"2D images of different sizes ({', '.join(map(str, sorted(shapes)[:3]))}); give images "
                            "of one size.")
        return np.asarray(images, np.float32)[..., None], np.asarray(masks, np.int64)
    shape = common_shape([image.shape for image in images], multiple, minimum)
    x = np.stack([pad_to(image, shape) for image in images]).astype(np.float32)[..., None]
    y = np.stack([pad_to(mask, shape) for mask in masks]).astype(np.int64)
    return x, y


def _split(count, dimensions, config):
    """(train, validation, test) index arrays; see the module docstring."""
    if dimensions == 2:
        needed = config.test_slices + config.val_slices + 1
        if count < needed:
            raise DataError(f"{count} slices: --test-slices {config.test_slices} and --val-slices "
                            f"{config.val_slices} need at least {needed} (one left to train on).")
        test = np.arange(count - config.test_slices, count)
        validation = np.arange(count - config.test_slices - config.val_slices, count - config.test_slices)
        return np.arange(validation[0]), validation, test
    from sklearn.model_selection import train_test_split

    if count < 3:
        raise DataError(f"{count} volumes: a split needs at least 3 (train, validation, test).")
    rest, test = train_test_split(np.arange(count), test_size=max(1, round(config.test_fraction * count)),
                                  random_state=config.seed)
    train, validation = train_test_split(rest, test_size=max(1, round(config.validation_fraction * count)),
                                         random_state=config.seed + 1)
    return np.sort(train), np.sort(validation), np.sort(test)


def _registered_slices(data):
    """Only the ISBI slices the registry lists (0-23, each MD5-checked): further files in the folder, such as
    slices 24-29 kept for a hidden test, would move the split and go unchecked."""
    registered = {Path(remote.name).stem for remote in ISBI.files if remote.name.startswith("images/")}
    keep = [index for index, name in enumerate(data.names) if name in registered]
    if len(keep) == len(data.names):
        return data
    print(f"[data] {data.root}: using the {len(keep)} registered slices; {len(data.names) - len(keep)} other "
          "file(s) left out", flush=True)
    return dataclasses.replace(data, images=data.images[keep], masks=data.masks[keep],
                               names=[data.names[index] for index in keep])


def level_multiple(config, dimensions):
    """What every side of a model input must divide by, and the crop size, for 2D or 3D."""
    filters = config.filters if dimensions == 2 else config.filters_3d
    return 2 ** (len(filters) - 1), config.crop_size if dimensions == 2 else config.crop_size_3d


def load_segmentation(config):
    """Read and split the data ``source_folder`` names; returns ``SegmentationSplits``.

    Raises:
        DataError: missing, mismatched or unreadable files (the message names them and the fix).
    """
    folder, key, class_names = source_folder(config)
    data = load_segmentation_folder(folder)
    if not config.data and config.dataset == "isbi2012_em":
        data = _registered_slices(data)
    multiple, crop = level_multiple(config, data.dimensions)
    x, y = prepare_cases(data.images, data.masks, data.dimensions, multiple, crop)
    if data.dimensions == 2 and min(x.shape[1:3]) < crop:
        raise DataError(f"{folder}: the images are {x.shape[1]}x{x.shape[2]} px, smaller than --crop-size {crop}.")
    class_names = class_names or data.class_names
    class_names = class_names if class_names and len(class_names) >= data.num_classes else [
        f"class_{k}" for k in range(data.num_classes)]
    train, validation, test = _split(len(x), data.dimensions, config)
    manifest = read_sample_manifest(folder) or read_sample_manifest(folder.parent)
    title = manifest["title"] if manifest else (ISBI.title if key == "isbi2012_em" else HIPPOCAMPUS.title
                                                if key == "msd_hippocampus" else f"your data in {folder}")
    split = (f"contiguous: slices {', '.join(data.names[i] for i in test)} test, "
             f"{', '.join(data.names[i] for i in validation)} validation, the {len(train)} before them training"
             if data.dimensions == 2 else f"random by case (seed {config.seed}): {len(test)} test, "
                                          f"{len(validation)} validation, {len(train)} training volumes")
    names = {"train": [data.names[i] for i in train], "val": [data.names[i] for i in validation],
             "test": [data.names[i] for i in test]}
    return SegmentationSplits(x[train], y[train], x[validation], y[validation], x[test], y[test], class_names,
                              names, title, str(folder), key, manifest, split)


def augmented_crop(image, mask, crop_shape, config, rng):
    """One training pair: a random ``crop_shape`` crop of ``image`` (..., 1) and ``mask`` (...), then augmented
    with the run's flips / turns and elastic deformation, the same transform for both: (image, mask)."""
    # TODO: common.segmentation's random_crop(image, mask, crop_shape, rng), then its augment_pair(image, mask,
    #       rng, flips=..., elastic_alpha=..., elastic_sigma=...) with the config's settings. Both take the image
    #       and the mask together: a transform drawn separately for each would no longer match them.
    # BEGIN SOLUTION
    image, mask = random_crop(image, mask, crop_shape, rng)
    return augment_pair(image, mask, rng, flips=config.flips, elastic_alpha=config.elastic_alpha,
                        elastic_sigma=config.elastic_sigma)
    # END SOLUTION


def training_batches(x, y, num_classes, config, seed):
    """An endless-per-epoch ``tf.data.Dataset`` of ``config.steps_per_epoch`` batches of random augmented crops:
    (images (B, *crop, 1), one-hot masks (B, *crop, K)). Every epoch draws new crops from its own seed."""
    import tensorflow as tf

    dimensions = x.ndim - 2
    _, crop = level_multiple(config, dimensions)
    crop_shape = (crop,) * dimensions
    epoch = [0]

    def batches():
        rng = np.random.default_rng([seed, epoch[0]])
        epoch[0] += 1
        for _ in range(config.steps_per_epoch):
            images, masks = [], []
            for _ in range(config.batch_size):
                index = int(rng.integers(len(x)))
                image, mask = augmented_crop(x[index], y[index], crop_shape, config, rng)
                images.append(image)
                masks.append(mask)
            yield np.stack(images), np.eye(num_classes, dtype=np.float32)[np.stack(masks)]

    signature = (tf.TensorSpec((None, *crop_shape, 1), tf.float32),
                 tf.TensorSpec((None, *crop_shape, num_classes), tf.float32))
    dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
    # The length, so that Keras knows where an epoch ends (a generator has none of its own).
    return dataset.apply(tf.data.experimental.assert_cardinality(config.steps_per_epoch)).prefetch(2)


def read_new_cases(path, config, class_names):
    """Images and masks a trained model never saw (``evaluate``, the hidden test set), prepared like a run's:
    (x, y, names). ``path`` is a folder in either layout."""
    data = load_segmentation_folder(path)
    multiple, crop = level_multiple(config, data.dimensions)
    x, y = prepare_cases(data.images, data.masks, data.dimensions, multiple, crop)
    if y.max() >= len(class_names):
        raise DataError(f"{path}: its masks hold class {int(y.max())}, but the model knows {len(class_names)} classes "
                        f"({', '.join(class_names)}).")
    return x, y, data.names
