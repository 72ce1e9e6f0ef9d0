"""Segmentation: the metrics, the loss, overlap-tiled prediction, and augmentation of image and mask together.

Shapes: images (N, H, W, C) or volumes (N, D, H, W, C); masks int (N, H, W) or (N, D, H, W) with class indices
0..K-1; scores float (N, ..., K), per-pixel class probabilities (softmax).

- ``segmentation_scores(y_true, y_score)``: pixel accuracy and error, and per class Dice (the F1 score of the
  class's pixels), IoU (Jaccard), precision, recall and support, over all pixels of all images (pooled), from
  one pixel confusion matrix. ``common.evaluate.evaluate_predictions(..., task="segmentation")`` returns them.
- ``adapted_rand_error(true_mask, predicted_mask)``: the ISBI 2012 challenge's Rand error of the segmented
  regions (connected components of the foreground class), by scikit-image.
- ``DiceCrossEntropy``: soft Dice loss plus cross-entropy on one-hot masks (Milletari et al. 2016; the sum is
  the usual U-Net loss for small or unbalanced structures).
- ``predict_tiled(model, images, tile, overlap)``: whole images predicted tile by tile, each tile's scores
  weighted towards its centre and the overlaps averaged, at any image size a fully convolutional model takes
  (the U-Net paper's overlap-tile strategy, with mirrored borders).
- ``augment_pair``: random flips, 90-degree turns and elastic deformation (Simard et al. 2003; the U-Net
  paper's main augmentation), applied identically to an image and its mask (the mask by nearest neighbour).
"""

import numpy as np

from common.tf_setup import import_tensorflow_quietly

# Scores are stored as uint8 (k / 255): whole test slices as float32 would take megabytes per model.
SCORE_LEVELS = 255


# ------------------------------------------------------------------------------------------------ metrics


def pixel_confusion(y_true, y_pred, num_classes):
    """Pixel counts (K, K): rows the true class, columns the predicted one."""
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"masks of {y_true.size} and {y_pred.size} pixels cannot be compared.")
    if y_true.size and (y_true.min() < 0 or y_true.max() >= num_classes):
        raise ValueError(f"true labels must lie in 0..{num_classes - 1}.")
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def scores_from_confusion(matrix, class_names):
    """Pixel accuracy, pixel error and per-class Dice, IoU, precision, recall, support from a confusion matrix.

    Dice = 2 TP / (2 TP + FP + FN) and IoU = TP / (TP + FP + FN); a class absent from both the truth and the
    prediction has no Dice or IoU (None) and is left out of the means.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    true_positive = np.diag(matrix)
    false_positive = matrix.sum(axis=0) - true_positive
    false_negative = matrix.sum(axis=1) - true_positive
    total = matrix.sum()
    per_class = {}
    for k, name in enumerate(class_names):
        union = true_positive[k] + false_positive[k] + false_negative[k]
        predicted, actual = true_positive[k] + false_positive[k], true_positive[k] + false_negative[k]
        per_class[name] = {
            "dice": float(2 * true_positive[k] / (union + true_positive[k])) if union else None,
            "iou": float(true_positive[k] / union) if union else None,
            "precision": float(true_positive[k] / predicted) if predicted else 0.0,
            "recall": float(true_positive[k] / actual) if actual else 0.0,
            "support": int(actual),
        }
    dice = [entry["dice"] for entry in per_class.values() if entry["dice"] is not None]
    iou = [entry["iou"] for entry in per_class.values() if entry["iou"] is not None]
    recalls = [entry["recall"] for entry in per_class.values() if entry["support"]]
    accuracy = float(true_positive.sum() / total) if total else float("nan")
    return {"accuracy": accuracy, "pixel_error": 1.0 - accuracy, "mean_dice": float(np.mean(dice)) if dice else None,
            "mean_iou": float(np.mean(iou)) if iou else None,
            "balanced_accuracy": float(np.mean(recalls)) if recalls else None, "per_class": per_class,
            "confusion_matrix": matrix.astype(np.int64).tolist()}


def segmentation_scores(y_true, y_score, class_names=None):
    """The metrics of ``scores_from_confusion`` for masks ``y_true`` (N, ...) and scores ``y_score`` (N, ..., K),
    with ``num_samples`` (images or volumes) and ``num_pixels``."""
    y_true, y_score = np.asarray(y_true), np.asarray(y_score)
    if y_score.shape[:-1] != y_true.shape:
        raise ValueError(f"segmentation expects masks (N, ...) and scores (N, ..., K) of the same size; got "
                         f"{y_true.shape} and {y_score.shape}.")
    num_classes = y_score.shape[-1]
    names = list(class_names) if class_names is not None else [str(k) for k in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f"{len(names)} class names given for {num_classes} score channels.")
    scores = scores_from_confusion(pixel_confusion(y_true, y_score.argmax(axis=-1), num_classes), names)
    return {**scores, "num_samples": int(len(y_true)), "num_pixels": int(y_true.size)}


def adapted_rand_error(true_mask, predicted_mask, foreground=1):
    """The adapted Rand error (1 - the Rand F-score) of the regions of class ``foreground``: connected
    components (4-connected in 2D) of each mask, compared by scikit-image as the ISBI 2012 challenge did.
    Both masks (H, W) or (D, H, W) of class indices; returns a float in [0, 1], 0 for identical regions."""
    from skimage.measure import label
    from skimage.metrics import adapted_rand_error as skimage_adapted_rand_error

    true_regions = label(np.asarray(true_mask) == foreground, connectivity=1)
    predicted_regions = label(np.asarray(predicted_mask) == foreground, connectivity=1)
    error, _, _ = skimage_adapted_rand_error(true_regions, predicted_regions)
    return float(error)


def quantize_scores(y_score):
    """Scores rounded to the ``SCORE_LEVELS`` levels they are stored with: (uint8 array, the float32 values)."""
    levels = np.rint(np.clip(np.asarray(y_score, dtype=np.float64), 0.0, 1.0) * SCORE_LEVELS).astype(np.uint8)
    return levels, dequantize_scores(levels)


def dequantize_scores(levels):
    return np.asarray(levels, dtype=np.float32) / SCORE_LEVELS


# ---------------------------------------------------------------------------------------------------- loss

import_tensorflow_quietly()
import keras  # noqa: E402
from keras import ops  # noqa: E402


@keras.saving.register_keras_serializable(package="common.segmentation")
class DiceCrossEntropy(keras.losses.Loss):
    """Soft Dice loss (1 - mean over classes of 2 sum(p y) / (sum(p) + sum(y)), over the pixels of the batch)
    plus categorical cross-entropy, for one-hot masks and softmax scores (N, ..., K)."""

    def __init__(self, dice_weight=1.0, smooth=1.0, name="dice_cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dice_weight, self.smooth = float(dice_weight), float(smooth)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        axes = tuple(range(len(y_pred.shape) - 1))
        overlap = ops.sum(y_true * y_pred, axis=axes)
        sizes = ops.sum(y_true, axis=axes) + ops.sum(y_pred, axis=axes)
        dice = ops.mean((2.0 * overlap + self.smooth) / (sizes + self.smooth))
        cross_entropy = ops.mean(keras.losses.categorical_crossentropy(y_true, y_pred))
        # One number per batch; Keras averages it as it would per-sample losses.
        return cross_entropy + self.dice_weight * (1.0 - dice)

    def get_config(self):
        return {**super().get_config(), "dice_weight": self.dice_weight, "smooth": self.smooth}


# ---------------------------------------------------------------------------------------------- prediction


def _starts(size, tile, step):
    """Tile origins covering ``size`` with tiles of ``tile`` every ``step``, the last one flush with the end."""
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, step))
    return starts + [size - tile]


def _centre_weight(tile_shape):
    """A separable weight, 1 at a tile's centre falling towards 1e-3 at its edges, so overlapping tiles blend
    smoothly and each pixel is decided mostly by a tile that sees context on every side."""
    weight = np.ones(tile_shape, dtype=np.float64)
    for axis, size in enumerate(tile_shape):
        profile = np.maximum(1.0 - np.abs(np.linspace(-1.0, 1.0, size)), 1e-3)
        weight *= profile.reshape([size if a == axis else 1 for a in range(len(tile_shape))])
    return weight


def predict_tiled(model, images, tile, overlap=0.5, batch_size=8):
    """Class scores (N, ..., K) of whole images (N, H, W, C) or volumes (N, D, H, W, C), predicted by
    ``model`` tile by tile.

    Each image is mirror-padded by a quarter tile on every side (so the border gets context as the inside does,
    the U-Net paper's overlap-tile strategy) and to at least one tile; tiles of side ``tile`` (an int, or one
    size per spatial axis) start every ``tile * (1 - overlap)`` pixels, and their scores are averaged with
    ``_centre_weight``. The result does not depend on how many images are predicted together.
    """
    images = np.asarray(images, dtype=np.float32)
    spatial = images.shape[1:-1]
    tile = tuple(int(tile) for _ in spatial) if np.isscalar(tile) else tuple(int(size) for size in tile)
    margins = [size // 4 for size in tile]
    pad = [(margin, margin + max(0, size - length - 2 * margin))
           for margin, size, length in zip(margins, tile, spatial)]
    padded = np.pad(images, [(0, 0), *pad, (0, 0)], mode="symmetric")
    steps = [max(1, int(round(size * (1.0 - overlap)))) for size in tile]
    starts = [_starts(length, size, step) for length, size, step in zip(padded.shape[1:-1], tile, steps)]
    origins = np.stack(np.meshgrid(*starts, indexing="ij"), -1).reshape(-1, len(tile))
    weight = _centre_weight(tile)[..., None]
    results = []
    for image in padded:
        windows = [tuple(slice(start, start + size) for start, size in zip(origin, tile)) for origin in origins]
        crops = np.stack([image[window] for window in windows])
        scores = np.asarray(model.predict(crops, batch_size=batch_size, verbose=0), dtype=np.float64)
        total = np.zeros((*image.shape[:-1], scores.shape[-1]))
        weights = np.zeros((*image.shape[:-1], 1))
        for window, score in zip(windows, scores):
            total[window] += score * weight
            weights[window] += weight
        inside = tuple(slice(before, before + length) for (before, _), length in zip(pad, spatial))
        results.append((total / weights)[inside])
    return np.stack(results).astype(np.float32)


# --------------------------------------------------------------------------------------------- augmentation


def elastic_field(shape, alpha, sigma, rng):
    """A smooth random displacement field (one array per axis of ``shape``): white noise smoothed by a Gaussian
    of ``sigma`` pixels, scaled so that its root-mean-square displacement along each axis is ``alpha`` pixels."""
    from scipy.ndimage import gaussian_filter

    fields = []
    for _ in shape:
        field = gaussian_filter(rng.normal(0.0, 1.0, shape), sigma, mode="reflect")
        fields.append(field * (alpha / max(float(field.std()), 1e-12)))
    return fields


def augment_pair(image, mask, rng, flips=True, elastic_alpha=0.0, elastic_sigma=10.0):
    """One randomly augmented copy of ``image`` (..., C) and ``mask`` (...), the same transform for both.

    Flips along every spatial axis and (2D, or the in-plane axes of a volume) a random number of 90-degree
    turns when ``flips``; then, if ``elastic_alpha`` > 0, an elastic deformation of ``elastic_alpha`` px (rms)
    smooth over ``elastic_sigma`` px (linear interpolation for the image, nearest neighbour for the mask, so its
    values stay class indices).
    """
    from scipy.ndimage import map_coordinates

    image, mask = np.asarray(image), np.asarray(mask)
    if flips:
        for axis in range(mask.ndim):
            if rng.random() < 0.5:
                image, mask = np.flip(image, axis), np.flip(mask, axis)
        if mask.shape[-1] == mask.shape[-2]:
            turns = int(rng.integers(0, 4))
            image, mask = np.rot90(image, turns, axes=(-3, -2)), np.rot90(mask, turns, axes=(-2, -1))
    if elastic_alpha > 0:
        grid = np.meshgrid(*[np.arange(size) for size in mask.shape], indexing="ij")
        coordinates = [axis + shift for axis, shift in zip(grid, elastic_field(mask.shape, elastic_alpha,
                                                                                elastic_sigma, rng))]
        image = np.stack([map_coordinates(image[..., c], coordinates, order=1, mode="reflect")
                          for c in range(image.shape[-1])], axis=-1)
        mask = map_coordinates(mask, coordinates, order=0, mode="reflect")
    return np.ascontiguousarray(image, dtype=np.float32), np.ascontiguousarray(mask)


def random_crop(image, mask, size, rng):
    """A random ``size`` crop (an int or one size per spatial axis) of ``image`` (..., C) and ``mask`` (...)."""
    size = (int(size),) * mask.ndim if np.isscalar(size) else tuple(size)
    starts = [int(rng.integers(0, length - side + 1)) for length, side in zip(mask.shape, size)]
    window = tuple(slice(start, start + side) for start, side in zip(starts, size))
    return image[window], mask[window]
