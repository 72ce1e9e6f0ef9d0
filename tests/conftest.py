"""Shared fixtures. Importing ``common`` first keeps TensorFlow's start-up quiet in test output."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import common.tf_setup  # noqa: E402,F401  (before anything imports TensorFlow)

common.tf_setup.import_tensorflow_quietly()

import contextlib  # noqa: E402
import dataclasses  # noqa: E402
import fcntl  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from common.datasets.samples import write_usps_samples  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# Where the test suite leaves every assignment's executed notebook, to be read (git-ignored, as all of runs/).
EXECUTED_NOTEBOOKS = REPO / "runs" / "notebooks"


@pytest.fixture(scope="session")
def usps_sample_root(tmp_path_factory):
    """A data root holding the USPS stand-in sample files (usps/zip.*.gz, usps/usps.h5)."""
    root = tmp_path_factory.mktemp("usps_samples")
    write_usps_samples(root)
    return root


def markdown_table_problems(text):
    """What keeps the Markdown tables in ``text`` from rendering, one line each: a table without its ``|---|``
    line, a row with another number of cells than its header, a cell that ends in a backslash (a Python line
    continuation written into the string)."""
    problems, table = [], []
    for number, line in enumerate([*text.splitlines(), ""], 1):
        if line.lstrip().startswith("|"):
            table.append((number, line.strip()))
            continue
        if table:
            width = len(re.split(r"(?<!\\)\|", table[0][1].strip("|")))
            if len(table) < 2 or not re.fullmatch(r"(\|:?-+:?)+\|", table[1][1].replace(" ", "")):
                problems.append(f"line {table[0][0]}: no |---| line under the table's header")
            for row_number, row in table:
                cells = re.split(r"(?<!\\)\|", row.strip("|"))
                if len(cells) != width:
                    problems.append(f"line {row_number}: {len(cells)} cells under a header of {width}")
                if any(cell.strip().endswith("\\") for cell in cells):
                    problems.append(f"line {row_number}: a cell ends in a backslash")
            table = []
    return problems


@pytest.fixture
def table_problems():
    """``markdown_table_problems`` for a test to call (see there)."""
    return markdown_table_problems


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
    so one run proves that a student's copy works and gives tests a command-line run folder. Runs are made
    once per session, also across pytest-xdist workers (``shared_once``).
    """
    from assignments.catalogue import ASSIGNMENTS
    from assignments.workflow import new_assignment

    def run(number):
        original = ASSIGNMENTS[number][0]
        name = f"student_copy_{number}"
        with shared_once(tmp_path_factory, f"copy_{number}") as (workspace, done):
            if not done:  # (a failed earlier attempt left its files: start afresh)
                shutil.rmtree(workspace / "assignments", ignore_errors=True)
                shutil.rmtree(workspace / "runs", ignore_errors=True)
                (workspace / "assignments").mkdir()
                shutil.copy(REPO / "assignments" / "__init__.py", workspace / "assignments" / "__init__.py")
                new_assignment(name, str(number), assignments_dir=workspace / "assignments")
                environment = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
                completed = subprocess.run([sys.executable, "-m", f"assignments.{name}", "--smoke", "--verbose", "0",
                                            "--runs-dir", str(workspace / "runs")], cwd=workspace, env=environment,
                                           capture_output=True, text=True, timeout=900)
                assert completed.returncode == 0, completed.stderr[-3000:]
                (workspace / "result.json").write_text(json.dumps({"stdout": completed.stdout,
                                                                   "stderr": completed.stderr}))
                (workspace / "done").write_text("")
            result = json.loads((workspace / "result.json").read_text())
        completed = subprocess.CompletedProcess(["python", "-m", f"assignments.{name}"], 0, result["stdout"],
                                                result["stderr"])
        return CopiedRun(original, name, Path(result["stdout"].strip().splitlines()[-1]), completed)

    return run


@contextlib.contextmanager
def shared_once(tmp_path_factory, key):
    """A folder ``key`` made once per test session, also across pytest-xdist workers: the block runs with the
    folder's lock held, and yields (folder, done), ``done`` true when an earlier holder finished it (it wrote
    ``folder/done``). Each worker has its own temporary folder; their parent is the session's."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = shared / "shared" / key
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield folder, (folder / "done").is_file()


@dataclasses.dataclass
class NotebookRun:
    """An assignment's notebook executed top to bottom on the --smoke preset (see ``notebook_run``)."""

    package: str
    folder: Path  # the run folder the notebook's train.run(config) wrote
    completed: subprocess.CompletedProcess  # returncode 0; stdout / stderr: the notebook's stream outputs
    executed: Path  # the executed notebook, with its outputs


def notebook_path(package):
    return REPO / "assignments" / package / f"{package}.ipynb"


def execute_notebook(path, runs_dir, executed):
    """Execute ``path`` with SMOKE=1 in a kernel of this venv, from the notebook's own folder (as Jupyter starts
    it), its runs under ``runs_dir``; write the executed notebook to ``executed`` (also when a cell fails, so
    the failure can be read in place) and return it. A cell error raises nbclient's ``CellExecutionError``."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    environment = {**os.environ, "SMOKE": "1", "RUNS_DIR": str(runs_dir), "TF_CPP_MIN_LOG_LEVEL": "2",
                   "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    client = NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute(env=environment)
    finally:
        executed.parent.mkdir(parents=True, exist_ok=True)
        partial = executed.with_name(f".{executed.name}.partial")
        nbformat.write(notebook, partial)
        partial.replace(executed)
    return notebook


def streams(notebook, name):
    """The text a notebook's cells wrote to ``name`` ("stdout" or "stderr"), in order."""
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.get("outputs", []) if output.get("output_type") == "stream"
                   and output.get("name") == name)


@pytest.fixture(scope="session")
def notebook_run(tmp_path_factory):
    """``notebook_run(number)``: assignment ``number``'s notebook executed on the --smoke preset, once per test
    session (shared by the xdist workers), returned as a ``NotebookRun``. The notebook trains through the
    assignment's ``train.run``, so its run folder is the assignment's --smoke run that the tests read; the
    executed notebook is also left in runs/notebooks/ to be read."""
    from assignments.catalogue import ASSIGNMENTS

    def run(number):
        package = ASSIGNMENTS[number][0]
        with shared_once(tmp_path_factory, f"notebook_{package}") as (folder, done):
            if (folder / "failed").is_file():  # once is enough: every test that needs it fails at once
                pytest.fail(f"{package}'s notebook failed earlier in this session: "
                            f"{(folder / 'failed').read_text()[-3000:]}")
            if not done:
                shutil.rmtree(folder / "runs", ignore_errors=True)  # (a worker stopped half-way: start afresh)
                executed = folder / f"{package}.ipynb"
                try:
                    notebook = execute_notebook(notebook_path(package), folder / "runs", executed)
                except BaseException as error:
                    (folder / "failed").write_text(f"{type(error).__name__}: {error}")
                    raise
                finally:
                    if executed.is_file():  # also a failed one, to read where it stopped
                        EXECUTED_NOTEBOOKS.mkdir(parents=True, exist_ok=True)
                        partial = EXECUTED_NOTEBOOKS / f".{package}.ipynb.partial"
                        shutil.copy(executed, partial)
                        partial.replace(EXECUTED_NOTEBOOKS / f"{package}.ipynb")
                runs = sorted((folder / "runs" / package).iterdir())
                assert len(runs) == 1, f"the notebook wrote {len(runs)} run folders: {runs}"
                (folder / "result.json").write_text(json.dumps(
                    {"folder": str(runs[0]), "stdout": streams(notebook, "stdout"),
                     "stderr": streams(notebook, "stderr")}))
                (folder / "done").write_text("")
            result = json.loads((folder / "result.json").read_text())
        completed = subprocess.CompletedProcess(["notebook", package], 0, result["stdout"], result["stderr"])
        return NotebookRun(package, Path(result["folder"]), completed, folder / f"{package}.ipynb")

    return run
