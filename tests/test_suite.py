"""The suite as a whole: the launcher behind `make assignmentN` / `make demo`, and the install."""

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

from assignments.catalogue import ASSIGNMENTS, is_built

REPO = Path(__file__).resolve().parent.parent


def _launch(*args):
    return subprocess.run([sys.executable, "-m", "assignments", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_list_names_every_assignment():
    completed = _launch("list")
    assert completed.returncode == 0
    assert all(package in completed.stdout for package, _ in ASSIGNMENTS.values())
    assert is_built(1)


def test_unbuilt_assignment_says_so_and_fails():
    unbuilt = [number for number in ASSIGNMENTS if not is_built(number)]
    for number in unbuilt:
        completed = _launch("run", str(number))
        assert completed.returncode != 0
        assert "not implemented yet" in completed.stderr


def test_run_passes_flags_through_to_the_assignment():
    completed = _launch("run", "1", "--help")
    assert completed.returncode == 0 and "--num-trials" in completed.stdout


def test_no_pytorch_in_the_environment():
    # The medmnist wheel (and others) would pull PyTorch in; the suite keeps its own registry instead.
    assert importlib.util.find_spec("torch") is None
    assert importlib.util.find_spec("torchvision") is None


def test_makefile_targets_exist():
    makefile = (REPO / "Makefile").read_text()
    for target in ("demo:", "test:", "lint:", "data:", "grade:", "new-assignment:", "submit:",
                   " ".join(f"assignment{number}" for number in sorted(ASSIGNMENTS)) + ":"):
        assert target in makefile
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_tensorboard_starts_without_tensorflow_start_up_lines(tmp_path):
    import socket

    with socket.socket() as probe:  # a free port, so a TensorBoard already running cannot answer instead
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    process = subprocess.Popen([sys.executable, "-m", "assignments", "tensorboard", "--logdir", str(tmp_path),
                                "--port", port], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if f":{port}/" in line or len(lines) > 50:
                break
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the launcher and the TensorBoard it started
        process.wait(timeout=30)
    output = "".join(lines)
    assert f":{port}/" in output, output
    for noise in ("cuda", "oneDNN", "cpu_feature_guard", "TF_ENABLE_ONEDNN_OPTS"):
        assert noise not in output, output
