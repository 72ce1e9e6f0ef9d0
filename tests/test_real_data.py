"""Slow checks on the real data sets (``make test-real``); skipped where the data are not on disk.

They look in ``$DATA_DIR`` (default: the data cache ``data/``); point it at a folder that holds the real files,
e.g. ``DATA_DIR=/path/to/data make test-real``.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common.config import default_data_dir
from common.datasets.usps import load_usps

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _real_data_root():
    root = Path(default_data_dir())
    if (root / "usps" / "zip.train.gz").exists():
        return root
    pytest.skip(f"real USPS files not found in DATA_DIR ({root})")


def test_real_usps_loads_with_the_published_shapes_and_counts():
    root = _real_data_root()
    data = load_usps(root, "esl", download=False)
    assert data.x_train.shape == (7291, 16, 16, 1) and data.x_test.shape == (2007, 16, 16, 1)
    assert not data.is_sample
    # Class counts from the ESL data description (zip.info.txt).
    assert np.bincount(data.y_test).tolist() == [359, 264, 198, 166, 200, 160, 170, 147, 166, 177]
    if (root / "usps" / "usps.h5").exists():
        h5 = load_usps(root, "h5", download=False)
        assert abs(h5.x_train - data.x_train).max() < 1e-4


def test_assignment1_reaches_the_course_reference_on_real_usps(tmp_path):
    root = _real_data_root()
    completed = subprocess.run(
        [sys.executable, "-m", "assignments.a1_usps_fcnet", "--data-dir", str(root), "--runs-dir", str(tmp_path),
         "--verbose", "0"], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stderr[-3000:]
    folder = Path(completed.stdout.strip().splitlines()[-1])
    metrics = json.loads((folder / "metrics.json").read_text())
    rows = {row["model"]: row for row in metrics["results"]}
    assert rows["fc_net"]["accuracy"] >= 0.944, rows["fc_net"]["accuracy"]
    assert rows["small_cnn"]["accuracy"] >= 0.965, rows["small_cnn"]["accuracy"]
    assert metrics["wall_seconds"] < 300


def _medmnist_root(*names):
    root = Path(default_data_dir())
    if all((root / "medmnist" / name).exists() for name in names):
        return root
    pytest.skip(f"real MedMNIST files {', '.join(names)} not found in DATA_DIR ({root})")


def test_real_retinamnist_loads_with_the_published_splits():
    from common.datasets.medmnist import load_medmnist

    data = load_medmnist("retinamnist", data_dir=_medmnist_root("retinamnist.npz"), download=False)
    assert not data.is_sample and data.md5 == "bd4c0672f1bba3e3a89f0e4e876791e4"
    shapes = {split: (images.shape, labels.shape) for split, (images, labels) in data.splits.items()}
    assert shapes == {"train": ((1080, 28, 28, 3), (1080,)), "val": ((120, 28, 28, 3), (120,)),
                      "test": ((400, 28, 28, 3), (400,))}
    assert set(np.unique(data.splits["train"][1])) == set(range(5))


def test_real_adrenalmnist3d_loads_at_both_sizes_with_the_same_labels():
    from common.datasets.medmnist import load_medmnist

    root = _medmnist_root("adrenalmnist3d.npz", "adrenalmnist3d_64.npz")
    small = load_medmnist("adrenalmnist3d", size=28, data_dir=root, download=False)
    large = load_medmnist("adrenalmnist3d", size=64, data_dir=root, download=False)
    for data, side in ((small, 28), (large, 64)):
        assert not data.is_sample
        counts = {split: len(images) for split, (images, _) in data.splits.items()}
        assert counts == {"train": 1188, "val": 98, "test": 298}
        assert data.splits["test"][0].shape == (298, side, side, side, 1) and data.splits["test"][0].dtype == np.uint8
    for split in ("train", "val", "test"):
        # The two sizes are the same glands resampled, in the same order.
        np.testing.assert_array_equal(small.splits[split][1], large.splits[split][1])
    assert set(np.unique(small.splits["train"][1])) == {0, 1}
