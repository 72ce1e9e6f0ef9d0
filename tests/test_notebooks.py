"""The assignments' notebooks: committed without outputs, one set-up cell, and each executed top to bottom.

Each notebook is executed once per session on the --smoke preset (``notebook_run`` in conftest.py), in a
kernel of this venv; the assignments' own tests read the run folder it writes. The executed notebooks are
left in runs/notebooks/ to be read.
"""

import base64
import io
import json
import subprocess
import sys

import matplotlib.image
import nbformat
import pytest
from conftest import REPO, notebook_path

from assignments.catalogue import ASSIGNMENTS
from common.notebook import SETUP_CELL, config_flags, report_parts, smoke_requested

NUMBERS = sorted(ASSIGNMENTS)


def _code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_every_assignment_has_one_committed_notebook_without_outputs():
    found = sorted(path.relative_to(REPO).as_posix() for path in (REPO / "assignments").rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in path.parts)
    assert found == sorted(notebook_path(ASSIGNMENTS[number][0]).relative_to(REPO).as_posix() for number in NUMBERS)
    for number in NUMBERS:
        path = notebook_path(ASSIGNMENTS[number][0])
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        assert notebook.metadata.kernelspec.name == "python3", path  # Colab's and the venv's kernel
        for cell in _code_cells(notebook):
            assert cell.outputs == [] and cell.execution_count is None, f"{path}: strip the outputs before committing"
        assert _code_cells(notebook)[0].source == SETUP_CELL, f"{path}: the first code cell must be SETUP_CELL"


def test_the_notebook_kernel_is_this_venv(tmp_path):
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys; print(sys.prefix)")])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    assert notebook.cells[0].outputs[0].text.strip() == sys.prefix


@pytest.mark.parametrize("number", NUMBERS)
def test_notebook_runs_top_to_bottom_and_shows_the_report(number, notebook_run):
    run = notebook_run(number)
    executed = nbformat.read(run.executed, as_version=4)
    errors = [output for cell in _code_cells(executed) for output in cell.outputs if output.output_type == "error"]
    assert not errors
    assert run.completed.stderr == "", f"{run.package}'s notebook wrote to stderr: {run.completed.stderr[-2000:]}"
    assert all(cell.execution_count for cell in _code_cells(executed)), "every cell ran"
    images = [output.data["image/png"] for cell in _code_cells(executed) for output in cell.outputs
              if output.output_type in ("display_data", "execute_result") and "image/png" in output.data]
    report = (run.folder / "report.md").read_text()
    figures = [part for kind, part in report_parts(report, run.folder) if kind == "image"]
    assert figures and len(images) >= len(figures), "every figure of the report is shown inline"
    for image in images:
        assert matplotlib.image.imread(io.BytesIO(base64.b64decode(image))).shape[0] > 50
    assert str(run.folder) in run.completed.stdout  # train.run printed its folder
    assert "Epoch 1/" in run.completed.stdout  # Keras's progress bar


def test_report_parts_keep_the_order_and_leave_missing_figures_as_links(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "roc.png").write_bytes(b"png")
    text = "# Report\n\n| a |\n|---|\n\n**ROC**\n\n![ROC](figures/roc.png)\n\n![gone](figures/gone.png)\ntail"
    parts = report_parts(text, tmp_path)
    assert [kind for kind, _ in parts] == ["markdown", "image", "markdown"]
    assert parts[1][1] == tmp_path / "figures" / "roc.png" and "![gone](figures/gone.png)" in parts[2][1]


def test_smoke_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("SMOKE", "1")
    assert smoke_requested() and config_flags(True, "--verbose", 1) == ["--smoke", "--verbose", "1"]
    monkeypatch.setenv("SMOKE", "0")
    assert not smoke_requested() and config_flags(False) == []


def test_setup_cell_outside_the_suite_says_where_to_open_the_notebook(tmp_path):
    completed = subprocess.run([sys.executable, "-c", SETUP_CELL], cwd=tmp_path, capture_output=True, text=True,
                               timeout=60)
    assert completed.returncode == 1 and "is not inside the suite" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_setup_cell_on_colab_clones_the_course_and_installs_it(tmp_path):
    """The Colab branch, with google.colab stood in for, the course repository a local clone of this one, and
    pip given what is already installed (so nothing is downloaded)."""
    course = tmp_path / "course.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", "--depth", "1", f"file://{REPO}", str(course)], check=True,
                   timeout=120)
    (tmp_path / "google").mkdir()  # a namespace portion, as google.protobuf is
    (tmp_path / "google" / "colab.py").write_text("")
    cell = SETUP_CELL.replace('SUITE_GIT_URL = ""', f'SUITE_GIT_URL = "file://{course}"')
    program = f"import google.colab\n{cell}\nimport assignments, common\nprint(assignments.__file__)"
    root = tmp_path / "content" / "suite"
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SUITE_ROOT": str(root),
                   "PYTHONPATH": str(tmp_path), "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    workspace = tmp_path / "content"
    workspace.mkdir(exist_ok=True)
    completed = subprocess.run([sys.executable, "-c", program], cwd=workspace, env=environment, capture_output=True,
                               text=True, timeout=600)
    # The first run clones and installs, then restarts the runtime (kills its own process), as Colab needs.
    assert completed.returncode == -9, completed.stderr[-3000:]
    assert "run this cell again" in completed.stdout and (root / ".colab-installed").read_text() == \
        "requirements-colab.txt"
    # The second run finds the clone and the finished install, and goes on.
    completed = subprocess.run([sys.executable, "-c", program], cwd=workspace, env=environment, capture_output=True,
                               text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert f"the suite: {root}" in completed.stdout and str(root / "assignments") in completed.stdout


def _pins(path):
    return {line.split("==")[0]: line for line in path.read_text().splitlines() if "==" in line}


def test_colab_requirements_pin_what_the_suite_pins():
    suite, colab = _pins(REPO / "requirements.txt"), _pins(REPO / "requirements-colab.txt")
    assert colab and all(suite[name] == line for name, line in colab.items()), "pin Colab's as requirements.txt"
    assert _pins(REPO / "requirements-colab-gpu.txt")["tensorflow[and-cuda]"] == \
        _pins(REPO / "requirements-gpu.txt")["tensorflow[and-cuda]"]
    runtime = {"tensorflow", "keras", "tf-keras", "tensorflow-model-optimization", "ai-edge-litert", "scikit-learn"}
    assert runtime <= set(colab)


def test_release_writes_the_course_repository_into_the_notebooks(tmp_path):
    from assignments.release import release

    destination, _ = release(tmp_path / "course", git_url="https://example.org/course-2027.git")
    for number in NUMBERS:
        package = ASSIGNMENTS[number][0]
        notebook = nbformat.read(destination / "assignments" / package / f"{package}.ipynb", as_version=4)
        assert 'SUITE_GIT_URL = "https://example.org/course-2027.git"' in _code_cells(notebook)[0].source
    assert json.loads((destination / "assignments" / package / f"{package}.ipynb").read_text())["nbformat"] == 4
