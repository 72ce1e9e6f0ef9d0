"""Intensity and grid preprocessing of 3D volumes (NumPy, SciPy and OpenCV; no TensorFlow).

Volumes are arrays of shape (X, Y, Z) (RAS+, as ``common.datasets.volumes`` loads them; ``array[:, :, k]`` is
axial slice k). Every function returns a new float32 array and leaves its input untouched.

``preprocess_volume`` applies the steps in the order that keeps each one meaningful:

1. ``window_percentiles``: clip to the 1st..99th percentile and scale to [0, 1]. MRI has no absolute units
   and a few very bright voxels (vessels, fat, artefacts) would otherwise compress all tissue contrast.
2. ``clahe_slices`` (optional): contrast-limited adaptive histogram equalisation of each axial slice; it
   needs values in [0, 1], which step 1 gives.
3. ``resample_volume``: trilinear resampling to one shape (``resample``, the suite's one resampler), so that
   volumes with different numbers of slices can be batched; done after the intensity steps so that percentiles
   are taken on the original voxels.
4. ``normalize_volume``: z-score (mean 0, standard deviation 1 over the foreground) or min-max to [0, 1],
   per volume, on the final grid that the model sees.
"""

import numpy as np

NORMALIZATIONS = ("zscore", "minmax")


def _as_array(volume):
    """A float32 (X, Y, Z) array from an array or a ``Volume``; ValueError for anything not 3D."""
    array = np.asarray(getattr(volume, "array", volume), dtype=np.float32)
    if array.ndim != 3:
        raise ValueError(f"expected a volume of shape (X, Y, Z), got shape {array.shape}. Remove a channel axis "
                         "with volume[..., 0] and pass volumes one at a time.")
    if not np.all(np.isfinite(array)):
        raise ValueError("the volume holds NaN or infinite values; replace them first, e.g. np.nan_to_num(volume).")
    return array


def window_percentiles(volume, low=1.0, high=99.0, mask=None):
    """Clip a volume to its ``low``..``high`` percentiles and scale that range linearly to [0, 1].

    Args:
        volume: array (X, Y, Z), any real values.
        low, high: percentiles, 0 <= low < high <= 100.
        mask: optional bool array (X, Y, Z): take the percentiles over these voxels only (e.g. the body, so a
            large black background does not pull the lower percentile to zero).

    Returns:
        float32 (X, Y, Z) in [0, 1]. A constant volume (no range to scale) gives all zeros.
    """
    array = _as_array(volume)
    if not 0.0 <= low < high <= 100.0:
        raise ValueError(f"window percentiles must satisfy 0 <= low < high <= 100, got low={low}, high={high}.")
    values = array if mask is None else array[_check_mask(mask, array.shape)]
    if values.size == 0:
        raise ValueError("the mask selects no voxel; pass mask=None or a mask with foreground voxels.")
    lower, upper = np.percentile(values, (low, high))
    if upper <= lower:
        return np.zeros_like(array)
    return ((np.clip(array, lower, upper) - lower) / (upper - lower)).astype(np.float32)


def clahe_slices(volume, clip_limit=2.0, tile_grid_size=8):
    """Contrast-limited adaptive histogram equalisation (CLAHE) of every axial slice.

    Each slice ``volume[:, :, k]`` is quantised to 8 bits and equalised by OpenCV in ``tile_grid_size`` x
    ``tile_grid_size`` tiles, with histogram bins clipped at ``clip_limit`` times their mean height so that noise
    in flat regions is not amplified. 8 bits as in the original algorithm: OpenCV's 16-bit CLAHE uses 65,536
    bins, so on small tiles its clip limit drops to one count per bin and stops limiting anything.

    Args:
        volume: array (X, Y, Z) with values in [0, 1] (e.g. from ``window_percentiles``).
        clip_limit: contrast limit (> 0); larger values enhance more (and amplify noise more).
        tile_grid_size: number of tiles along each in-plane axis (capped at the slice size).

    Returns:
        float32 (X, Y, Z) in [0, 1].
    """
    import cv2

    array = _as_array(volume)
    if array.size and (array.min() < -1e-6 or array.max() > 1.0 + 1e-6):
        raise ValueError(f"clahe_slices needs values in [0, 1], got {array.min():.4g}..{array.max():.4g}. Apply "
                         "window_percentiles (or a min-max normalisation) first.")
    if clip_limit <= 0 or int(tile_grid_size) < 1:
        raise ValueError(f"clip_limit must be > 0 and tile_grid_size >= 1, got {clip_limit} and {tile_grid_size}.")
    tiles = (min(int(tile_grid_size), array.shape[1]), min(int(tile_grid_size), array.shape[0]))
    clahe = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=tiles)
    quantised = np.round(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
    output = np.empty_like(array)
    for k in range(array.shape[2]):
        output[:, :, k] = clahe.apply(np.ascontiguousarray(quantised[:, :, k])) / np.float32(255.0)
    return output


def _check_mask(mask, shape):
    mask = np.asarray(mask)
    if mask.shape != tuple(shape) or mask.dtype != bool:
        raise ValueError(f"mask must be a bool array of the volume's shape {tuple(shape)}, got {mask.dtype} "
                         f"{mask.shape}.")
    return mask


def normalize_volume(volume, method="zscore", mask=None):
    """Normalise the intensities of one volume.

    Args:
        volume: array (X, Y, Z).
        method: "zscore" (subtract the mean, divide by the standard deviation) or "minmax" (scale to [0, 1]).
        mask: None (statistics over all voxels), "nonzero" (over voxels != 0: the head, not the air around it,
            which would otherwise dominate the mean of a brain MRI) or a bool array (X, Y, Z). With a mask, voxels
            outside it are set to 0, so the background stays one constant value.

    Returns:
        float32 (X, Y, Z): "zscore" gives mean 0 and standard deviation 1 over the mask (all zeros when the
        masked voxels are constant); "minmax" gives values in [0, 1] (all zeros for a constant volume).
    """
    if method not in NORMALIZATIONS:
        raise ValueError(f"normalization method must be one of {NORMALIZATIONS}, got {method!r}.")
    array = _as_array(volume)
    if mask is None:
        selected = np.ones(array.shape, dtype=bool)
    elif isinstance(mask, str):
        if mask != "nonzero":
            raise ValueError(f"mask must be None, 'nonzero' or a bool array, got {mask!r}.")
        selected = array != 0
    else:
        selected = _check_mask(mask, array.shape)
    values = array[selected]
    if values.size == 0:
        return np.zeros_like(array)
    if method == "zscore":
        mean, std = float(values.mean()), float(values.std())
        output = (array - mean) / std if std > 0 else array - mean
    else:
        lowest, highest = float(values.min()), float(values.max())
        output = (array - lowest) / (highest - lowest) if highest > lowest else array - lowest
        output = np.clip(output, 0.0, 1.0)
    output = np.where(selected, output, 0.0) if mask is not None else output
    return output.astype(np.float32)


def resample(array, shape, order=1, dtype=np.float32):
    """The suite's one resampler: an array of any rank to ``shape`` by (multi)linear (``order=1``) or
    nearest-neighbour (``order=0``) interpolation, with scipy's ``ndimage.zoom``.

    Grid alignment (align corners, ``grid_mode=False``): the first and last sample along each axis of the output
    fall on the first and last sample of the input, so the output spans the same extent and the sample spacing
    becomes ``spacing * (size_in - 1) / (size_out - 1)``. Linear interpolation reproduces any linear function
    of the position exactly, whether up- or downsampling; downsampling by large factors does not low-pass
    filter first (smooth beforehand if the array holds fine detail). An axis resampled to one sample takes its
    first input sample.

    Args:
        array: array of any shape (N-D); float or integer.
        shape: the output shape, one positive size per axis.
        order: 1 for (multi)linear (images, volumes, heat maps), 0 for nearest neighbour (label masks, which must
            keep their values).
        dtype: the output's type; float64 keeps full precision for a further resampling step.

    Returns:
        array of shape ``shape`` and type ``dtype``.
    """
    from scipy.ndimage import zoom

    array = np.asarray(array, dtype=np.float64)
    shape = tuple(int(size) for size in shape)
    if len(shape) != array.ndim or min(shape) < 1:
        raise ValueError(f"shape must give {array.ndim} positive sizes for an array of shape {array.shape}, got "
                         f"{shape}.")
    if order not in (0, 1):
        raise ValueError(f"order must be 1 (linear) or 0 (nearest neighbour), got {order}.")
    if shape == array.shape:
        return array.astype(dtype)
    factors = [size_out / size_in for size_out, size_in in zip(shape, array.shape)]
    # Interpolated in float64, so that the only rounding is the final conversion to float32.
    resampled = zoom(array, factors, order=order, mode="nearest", grid_mode=False, prefilter=False)
    return np.ascontiguousarray(resampled, dtype=dtype)


def resample_volume(volume, shape, order=1):
    """Resample a volume (X, Y, Z) to ``shape`` by trilinear (``order=1``) or nearest-neighbour (``order=0``)
    interpolation, corners aligned (see ``resample``). Returns float32 of shape ``shape``."""
    array = _as_array(volume)
    shape = tuple(int(size) for size in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"shape must be three positive sizes (X, Y, Z), got {shape}.")
    return resample(array, shape, order=order)


def resample_to_depth(volume, depth, order=1):
    """Resample only the slice axis (Z) to ``depth`` slices; X and Y are unchanged. See ``resample_volume``."""
    array = _as_array(volume)
    return resample_volume(array, (array.shape[0], array.shape[1], depth), order=order)


def preprocess_volume(volume, shape, window=(1.0, 99.0), clahe=False, normalization="zscore", mask=None):
    """Window, optionally CLAHE, resample and normalise one volume (see the module docstring for the order).

    Args:
        volume: array (X, Y, Z) or a ``Volume``, in scanner units.
        shape: the output shape (X', Y', Z').
        window: (low, high) percentiles for ``window_percentiles``, or None to skip windowing.
        clahe: apply ``clahe_slices`` with its defaults (needs ``window``).
        normalization: "zscore", "minmax" or None (keep the windowed [0, 1] values).
        mask: the z-score / min-max mask on the output grid: None, "nonzero" or a bool array of ``shape``.

    Returns:
        float32 array of shape ``shape``; values in [0, 1] for "minmax" or None (with a window), mean 0 and
        standard deviation 1 for "zscore".
    """
    if normalization is not None and normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS} or None, got {normalization!r}.")
    if clahe and window is None:
        raise ValueError("clahe=True needs values in [0, 1]: keep a window, e.g. window=(1, 99).")
    array = _as_array(volume)
    if window is not None:
        array = window_percentiles(array, *window)
    if clahe:
        array = clahe_slices(array)
    array = resample_volume(array, shape)
    if normalization is not None:
        array = normalize_volume(array, normalization, mask=mask)
    return array
