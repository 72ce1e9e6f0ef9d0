"""Runs that survive faults: a run killed at any moment resumes to the numbers of an uninterrupted run, a live run
is never joined, two local workers train one run, and nothing a user can cause prints a Python traceback.

The kills are injected with ``SUITE_FAULT`` (``common.faults``): the process ends there at once, as ``kill -9``
would, leaving whatever was on disk at that moment.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
A1 = "assignments.a1_usps_fcnet"


def _run(module, *args, env=None, timeout=600, cwd=REPO):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def _results(folder):
    metrics = json.loads((Path(folder) / "metrics.json").read_text())
    rows = [(row["model"], row["accuracy"], row["auc"], row["epochs_run"], row["best_epoch"])
            for row in metrics["results"]]
    return rows, [(trial["trial"], trial["val_accuracy"], trial["epochs_run"]) for trial in metrics["tuning"]]


def _files_are_whole(folder):
    leftovers = [path for path in Path(folder).rglob("*") if ".partial" in path.name or path.name.endswith(".training")]
    assert not leftovers, leftovers
    for path in Path(folder).rglob("*.json"):
        json.loads(path.read_text())
    for path in Path(folder).rglob("*.npz"):
        with np.load(path) as data:
            [data[key] for key in data.files]
    for path in Path(folder).rglob("*.keras"):
        assert zipfile.is_zipfile(path), path
    assert not (Path(folder) / "run.lock").exists(), "the finished run released its lock"


@pytest.fixture(scope="module")
def uninterrupted(copied_smoke_run):
    """The A1 --smoke run of the shared, renamed copy: what every resumed run must reproduce."""
    return _results(copied_smoke_run(1).folder)


@pytest.mark.parametrize("fault", ["epoch@4", "write:metrics.json@1"])
def test_a_killed_run_resumes_to_the_numbers_of_an_uninterrupted_one(fault, uninterrupted, tmp_path):
    """Killed in the middle of the second trial's training, or while the metrics were being written."""
    runs = tmp_path / "runs"
    args = ("--smoke", "--verbose", "0", "--runs-dir", str(runs))
    killed = _run(A1, *args, env={"SUITE_FAULT": fault})
    assert killed.returncode == 137, killed.stderr[-2000:]
    (folder,) = (runs / "a1_usps_fcnet").iterdir()
    assert not (folder / "metrics.json").exists() and (folder / "run.lock").exists(), "a kill leaves a stale lock"
    finished = {path: path.stat().st_mtime_ns for path in folder.glob("*/best.keras")
                if not path.parent.name.endswith(".training")}
    assert finished, "the first trial had finished before the kill"
    resumed = _run(A1, *args, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert Path(resumed.stdout.strip().splitlines()[-1]) == folder
    assert {path: path.stat().st_mtime_ns for path in finished} == finished, "a finished model was trained again"
    assert _results(folder) == uninterrupted
    _files_are_whole(folder)
    assert "Traceback" not in resumed.stderr


def test_resume_never_joins_a_live_run(tmp_path):
    folder = tmp_path / "runs" / "a1_usps_fcnet" / "20260101-000000"
    folder.mkdir(parents=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        from common.run import _process_start

        (folder / "run.lock").write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname(),
                                                     "process_start": _process_start(sleeper.pid),
                                                     "started": "2026-01-01T00:00:00", "command": "python -m x"}))
        completed = _run(A1, "--smoke", "--resume", "--runs-dir", str(tmp_path / "runs"), timeout=120)
    finally:
        sleeper.kill()
    assert completed.returncode == 1 and "Traceback" not in completed.stderr
    assert f"is still running (process {sleeper.pid}" in completed.stderr and str(folder) in completed.stderr


def test_ctrl_c_says_how_to_continue(tmp_path):
    runs = tmp_path / "runs"
    process = subprocess.Popen([sys.executable, "-m", A1, "--smoke", "--verbose", "0", "--runs-dir", str(runs)],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list((runs / "a1_usps_fcnet").glob("*/fc_trial_1*")):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr, stderr
    assert f"interrupted; continue with: python -m {A1} --smoke --verbose 0 --runs-dir {runs} --resume" in stderr
    (folder,) = (runs / "a1_usps_fcnet").iterdir()
    assert not (folder / "run.lock").exists(), "an interrupted run releases its folder"


def _corrupt_npz(path):
    """A compressed .npz whose deflate stream is damaged (zip headers intact)."""
    np.savez_compressed(path, **{f"{split}_{kind}": np.arange(4000, dtype=np.uint8)
                                 for split in ("train", "val", "test") for kind in ("images", "labels")})
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)
    path.write_bytes(bytes(data))


def test_no_traceback_for_what_a_user_can_cause(tmp_path, notebook_run):
    from common.datasets.files import SAMPLE_MANIFEST, md5sum

    for seed in ("-1", "99999999999"):
        completed = _run(A1, "--seed", seed, timeout=60)
        assert completed.returncode == 2 and "--seed must be a whole number from 0 to 4294967295" in completed.stderr
        assert "Traceback" not in completed.stderr

    # predict --model RUN, with a metrics.json that is not JSON or names no model; a folder of images.
    run5 = notebook_run(5)
    for text in ("{ broken", "{}"):
        damaged = tmp_path / f"run5_{len(text)}"
        damaged.mkdir()
        (damaged / "metrics.json").write_text(text)
        completed = _run("assignments.a5_brain_tumor_cnn", "predict", "x.jpg", "--model", str(damaged), timeout=60)
        assert completed.returncode == 2 and "Traceback" not in completed.stderr, completed.stderr
        assert "metrics.json" in completed.stderr and "--model" in completed.stderr
    images = tmp_path / "scans"
    images.mkdir()
    for source in sorted((REPO / "data" / "samples" / "brain_tumor_mri" / "Testing" / "glioma").glob("*.jpg"))[:2]:
        (images / source.name).write_bytes(source.read_bytes())
    completed = _run("assignments.a5_brain_tumor_cnn", "predict", str(images), "--model", str(run5.folder), "--json",
                     timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert len(json.loads(completed.stdout)["predictions"]) == 2

    # --resume over a config.json that is not JSON.
    folder = tmp_path / "runs" / "a1_usps_fcnet" / "20260101-000000"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{ truncated")
    completed = _run(A1, "--smoke", "--resume", "--runs-dir", str(tmp_path / "runs"), timeout=120)
    assert completed.returncode == 1 and "config.json cannot be read" in completed.stderr
    assert "Traceback" not in completed.stderr

    # A compressed .npz damaged inside (zlib), its checksum recorded as if it were right.
    medmnist = tmp_path / "data" / "medmnist"
    medmnist.mkdir(parents=True)
    _corrupt_npz(medmnist / "retinamnist.npz")
    checksum = md5sum(medmnist / "retinamnist.npz")
    (medmnist / SAMPLE_MANIFEST).write_text(json.dumps({"title": "damaged", "stands_in_for": ["retinamnist"],
                                                        "description": "a damaged file",
                                                        "md5": {"retinamnist.npz": checksum}}))
    completed = _run("assignments.a4_medmnist", "--problems", "3", "--data-dir", str(tmp_path / "data"),
                     "--runs-dir", str(tmp_path / "runs4"), timeout=120)
    assert completed.returncode == 1 and "retinamnist.npz cannot be read" in completed.stderr
    assert "Traceback" not in completed.stderr


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for handle in sockets:
        handle.bind(("127.0.0.1", 0))
    ports = [handle.getsockname()[1] for handle in sockets]
    for handle in sockets:
        handle.close()
    return ports


def test_two_local_workers_train_one_run(tmp_path):
    """MultiWorkerMirroredStrategy on one machine: two processes on local ports, one run folder (the chief's)."""
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    runs = tmp_path / "runs"
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        processes.append(subprocess.Popen(
            [sys.executable, "-m", A1, "--smoke", "--verbose", "0", "--strategy", "multi-worker", "--num-trials",
             "1", "--no-cnn", "--runs-dir", str(runs)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env={**os.environ, "TF_CONFIG": tf_config}))
    outputs = [process.communicate(timeout=600) for process in processes]
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
        assert "Traceback" not in stderr
    (folder,) = (runs / "a1_usps_fcnet").iterdir()
    assert Path(outputs[0][0].strip().splitlines()[-1]) == folder
    assert outputs[1][0].strip().splitlines()[-1] == "this worker is done; the chief wrote the run folder"
    rows = {row["model"]: row for row in json.loads((folder / "metrics.json").read_text())["results"]}
    assert rows["fc_net"]["accuracy"] >= 0.6, "a sane accuracy on the ten stand-in digit classes"
    _files_are_whole(folder)
