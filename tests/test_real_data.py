"""Slow checks on the real data sets (``make test-real``); skipped where the data are not on disk.

They look in ``$DATA_DIR`` and then in ``../shared/data`` beside the repository.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common.datasets.usps import load_usps

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _real_data_root():
    for candidate in (os.environ.get("DATA_DIR"), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "usps" / "zip.train.gz").exists():
            return Path(candidate)
    pytest.skip("real USPS files not found in DATA_DIR or ../shared/data")


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
