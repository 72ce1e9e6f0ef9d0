"""Volume preprocessing against analytic volumes: resampling reproduces linear functions, windowing and
normalisation give their documented value ranges, CLAHE raises contrast."""

import warnings

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter, zoom

from common.volume_preprocess import (
    clahe_slices,
    normalize_volume,
    preprocess_volume,
    resample_to_depth,
    resample_volume,
    window_percentiles,
)

COEFFICIENTS = (0.7, -0.3, 1.9, 4.0)  # f(x, y, z) = a x + b y + c z + d


def _linear(shape, coordinates=None):
    """f evaluated at voxel indices (or at the given per-axis coordinates)."""
    a, b, c, d = COEFFICIENTS
    x, y, z = coordinates if coordinates is not None else [np.arange(size, dtype=np.float64) for size in shape]
    return a * x[:, None, None] + b * y[None, :, None] + c * z[None, None, :] + d


@pytest.mark.parametrize("shape_out", [(17, 23, 31), (4, 5, 3), (9, 3, 20)],
                         ids=["upsampling", "downsampling", "mixed"])
def test_trilinear_resampling_reproduces_a_linear_function(shape_out):
    shape_in = (9, 12, 7)
    resampled = resample_volume(_linear(shape_in), shape_out)
    assert resampled.shape == shape_out and resampled.dtype == np.float32
    # Align corners: output sample i sits at input position i * (n_in - 1) / (n_out - 1).
    positions = [np.linspace(0, n_in - 1, n_out) for n_in, n_out in zip(shape_in, shape_out)]
    np.testing.assert_allclose(resampled, _linear(shape_in, positions), atol=1e-5)


def test_resampling_to_the_same_shape_is_the_identity_and_corners_align():
    volume = np.random.default_rng(0).normal(size=(6, 7, 8)).astype(np.float32)
    np.testing.assert_array_equal(resample_volume(volume, volume.shape), volume)
    larger = resample_volume(volume, (11, 3, 15))
    for corner in [(0, 0, 0), (-1, -1, -1), (0, -1, 0), (-1, 0, -1)]:
        assert larger[corner] == pytest.approx(volume[corner], abs=1e-6)


def test_resampling_matches_scipy_zoom_with_aligned_corners():
    volume = gaussian_filter(np.random.default_rng(1).normal(size=(10, 9, 12)), 1.0)
    ours = resample_volume(volume, (15, 5, 20))
    reference = zoom(volume, (15 / 10, 5 / 9, 20 / 12), order=1, grid_mode=False, mode="nearest")
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_nearest_neighbour_keeps_label_values_and_depth_resampling_keeps_the_plane():
    labels = np.random.default_rng(2).integers(0, 3, size=(5, 6, 7)).astype(np.float32)
    assert set(np.unique(resample_volume(labels, (9, 4, 13), order=0))) <= {0.0, 1.0, 2.0}
    deeper = resample_to_depth(_linear((5, 6, 7)), 19)
    assert deeper.shape == (5, 6, 19)
    np.testing.assert_allclose(deeper, _linear((5, 6, 7), [np.arange(5.0), np.arange(6.0), np.linspace(0, 6, 19)]),
                               atol=1e-5)
    with pytest.raises(ValueError, match="three positive sizes"):
        resample_volume(labels, (4, 4))
    with pytest.raises(ValueError, match="shape \\(X, Y, Z\\)"):
        resample_volume(labels[0], (4, 4, 4))


def test_window_percentiles_clips_outliers_and_scales_to_unit_range():
    volume = np.random.default_rng(3).normal(100.0, 10.0, size=(20, 20, 10)).astype(np.float32)
    volume[0, 0, 0] = 1e6  # one hot voxel must not compress everything else
    windowed = window_percentiles(volume, 1, 99)
    assert windowed.dtype == np.float32 and windowed.min() == 0.0 and windowed.max() == 1.0
    assert 0.4 < np.median(windowed) < 0.6
    assert np.mean(windowed == 1.0) == pytest.approx(0.01, abs=0.002)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division by zero
        np.testing.assert_array_equal(window_percentiles(np.full((3, 3, 3), 7.0)), np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match="0 <= low < high <= 100"):
        window_percentiles(volume, 99, 1)


def test_normalize_volume_zscore_minmax_and_foreground_mask():
    rng = np.random.default_rng(4)
    volume = np.zeros((10, 10, 10), dtype=np.float32)
    volume[2:8, 2:8, 2:8] = rng.normal(500.0, 50.0, size=(6, 6, 6))  # a "head" in air
    zscore = normalize_volume(volume, "zscore")
    assert zscore.mean() == pytest.approx(0, abs=1e-5) and zscore.std() == pytest.approx(1, abs=1e-5)
    foreground = normalize_volume(volume, "zscore", mask="nonzero")
    inside = volume != 0
    assert foreground[inside].mean() == pytest.approx(0, abs=1e-4) and foreground[inside].std() == pytest.approx(1)
    assert np.all(foreground[~inside] == 0)
    minmax = normalize_volume(volume, "minmax")
    assert minmax.min() == 0.0 and minmax.max() == 1.0
    assert np.all(normalize_volume(np.full((2, 2, 2), 3.0), "zscore") == 0)
    with pytest.raises(ValueError, match=r"one of \('zscore', 'minmax'\), got 'l2'"):
        normalize_volume(volume, "l2")


def test_clahe_raises_the_contrast_of_a_low_contrast_volume():
    rng = np.random.default_rng(5)
    structure = gaussian_filter(rng.normal(size=(48, 48, 4)), (3, 3, 0))
    volume = (0.5 + 0.03 * structure / np.abs(structure).max()).astype(np.float32)  # values within 0.47..0.53
    enhanced = clahe_slices(volume, clip_limit=2.0, tile_grid_size=4)
    assert enhanced.shape == volume.shape and enhanced.dtype == np.float32
    assert enhanced.min() >= 0 and enhanced.max() <= 1
    assert enhanced.std() > 3 * volume.std()
    # Equalisation remaps grey levels monotonically within a tile: the structure is kept, not replaced.
    assert np.corrcoef(enhanced.ravel(), volume.ravel())[0, 1] > 0.8
    with pytest.raises(ValueError, match=r"values in \[0, 1\].*window_percentiles"):
        clahe_slices(volume * 10)


def test_preprocess_volume_composes_the_steps():
    volume = np.abs(np.random.default_rng(6).normal(300.0, 80.0, size=(20, 24, 13))).astype(np.float32)
    output = preprocess_volume(volume, (16, 16, 8))
    assert output.shape == (16, 16, 8) and output.dtype == np.float32
    assert output.mean() == pytest.approx(0, abs=1e-5) and output.std() == pytest.approx(1, abs=1e-4)
    unit = preprocess_volume(volume, (16, 16, 8), clahe=True, normalization=None)
    assert unit.min() >= 0 and unit.max() <= 1
    with pytest.raises(ValueError, match="clahe=True needs values in"):
        preprocess_volume(volume, (8, 8, 8), window=None, clahe=True)
    with pytest.raises(ValueError, match="normalization must be one of"):
        preprocess_volume(volume, (8, 8, 8), normalization="robust")


def test_the_one_resampler_gives_what_the_earlier_trilinear_code_gave():
    """scipy's zoom (align corners) replaced a hand-written trilinear resampler; these numbers are what the
    earlier code gave on the same volume, up-, down- and nearest-neighbour-sampled."""
    from common.volume_preprocess import resample, resample_volume

    volume = np.random.default_rng(11).normal(size=(9, 7, 5)).astype("float32")
    expected = {((13, 10, 8), 1): (25.74596405029297, -0.08033584803342819, 353.54888916015625),
                ((4, 3, 2), 1): (1.8731030225753784, -0.1483435332775116, 10.290225982666016),
                ((13, 10, 8), 0): (31.751075744628906, 0.2475457340478897, 923.07568359375)}
    for (shape, order), (total, sample, squares) in expected.items():
        resampled = resample_volume(volume, shape, order=order)
        assert resampled.shape == shape and resampled.dtype == np.float32
        assert (float(resampled.sum()), float(resampled[1, 2, 1]), float((resampled ** 2).sum())) == pytest.approx(
            (total, sample, squares), rel=1e-6)
        assert resampled[-1, -1, -1] == pytest.approx(volume[-1, -1, -1]), "corners stay aligned"
    # The same resampler serves 2D arrays (Grad-CAM maps, images).
    image = resample(np.array([[0.0, 1.0], [2.0, 3.0]]), (3, 3))
    np.testing.assert_allclose(image, [[0, 0.5, 1], [1, 1.5, 2], [2, 2.5, 3]])
