"""Shared fixtures. Importing ``common`` first keeps TensorFlow's start-up quiet in test output."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import common.tf_setup  # noqa: E402,F401  (before anything imports TensorFlow)

common.tf_setup.import_tensorflow_quietly()

import dataclasses  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from common.datasets.samples import write_usps_samples  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def usps_sample_root(tmp_path_factory):
    """A data root holding the USPS stand-in sample files (usps/zip.*.gz, usps/usps.h5)."""
    root = tmp_path_factory.mktemp("usps_samples")
    write_usps_samples(root)
    return root


@dataclasses.dataclass
class CopiedRun:
    """A --smoke run of a renamed copy of an assignment (see ``copied_smoke_run``)."""

    original: str  # the assignment's package name
    name: str  # the copy's package name
    folder: Path  # the run folder
    completed: subprocess.CompletedProcess


@pytest.fixture(scope="session")
def copied_smoke_run(tmp_path_factory):
    """``copied_smoke_run(number)``: copy assignment ``number`` under a new name into a fresh ``assignments/``
    package that holds nothing else, run the copy's --smoke path there, and return a ``CopiedRun``.

    An absolute import of the original package name (instead of a relative one) would fail in that folder,
    so one run proves that a student's copy works and gives the assignment's tests their run folder. Runs
    are cached for the session, so each assignment's smoke path runs once for both purposes.
    """
    from assignments.catalogue import ASSIGNMENTS
    from assignments.workflow import new_assignment

    cache = {}

    def run(number):
        if number not in cache:
            original = ASSIGNMENTS[number][0]
            workspace = tmp_path_factory.mktemp(f"copy_{number}")
            (workspace / "assignments").mkdir()
            shutil.copy(REPO / "assignments" / "__init__.py", workspace / "assignments" / "__init__.py")
            name = f"student_copy_{number}"
            new_assignment(name, str(number), assignments_dir=workspace / "assignments")
            environment = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
            completed = subprocess.run([sys.executable, "-m", f"assignments.{name}", "--smoke", "--verbose", "0",
                                        "--runs-dir", str(workspace / "runs")], cwd=workspace, env=environment,
                                       capture_output=True, text=True, timeout=900)
            assert completed.returncode == 0, completed.stderr[-3000:]
            folder = Path(completed.stdout.strip().splitlines()[-1])
            cache[number] = CopiedRun(original, name, folder, completed)
        return cache[number]

    return run
