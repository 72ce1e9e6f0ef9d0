"""Student workflow: start a project from an assignment, and pack a finished run for grading.

    make new-assignment NAME=my_project FROM=1   copy assignments/a1_usps_fcnet/ to assignments/my_project/
    make submit ASSIGNMENT=1                     pack the code and the latest finished run into submissions/

A copy runs unchanged under its new name because an assignment imports only ``common`` and its own modules
(relative imports), and names its run folder after its package. A submission archive holds ``code/<name>/``,
``run/<timestamp>/`` and ``MANIFEST.json`` (the MD5 of every file: an inventory that catches a damaged archive;
the grader re-runs the models rather than trust it, see ``common.grading``).
"""

import datetime
import hashlib
import json
import keyword
import platform
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

from assignments.catalogue import ASSIGNMENTS

ASSIGNMENTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = ASSIGNMENTS_DIR.parent
SKIPPED = ("__pycache__", "*.pyc", ".ipynb_checkpoints")


class WorkflowError(RuntimeError):
    """A request that cannot be carried out; the message says what to do instead."""


def resolve_package(name_or_number):
    """The package name under ``assignments/`` for ``"1"`` .. ``"5"`` or a package name (copies included)."""
    text = str(name_or_number).strip().rstrip("/").split("/")[-1]
    if text.isdigit() and int(text) in ASSIGNMENTS:
        text = ASSIGNMENTS[int(text)][0]
    if not (ASSIGNMENTS_DIR / text / "__main__.py").is_file():
        built = sorted(path.name for path in ASSIGNMENTS_DIR.iterdir() if (path / "__main__.py").is_file())
        raise WorkflowError(f"there is no assignment {name_or_number!r} under {ASSIGNMENTS_DIR}; "
                            f"use a number 1-{max(ASSIGNMENTS)} or one of: {', '.join(built)}.")
    return text


def new_assignment(name, source, assignments_dir=ASSIGNMENTS_DIR):
    """Copy assignment ``source`` (number or package) to ``assignments_dir/name``; returns the new folder.

    The package name is replaced by the new one in the copy's docstrings, README (its run commands) and
    notebook (its imports; the notebook is renamed too), and nothing else changes: the code finds its own name
    at run time. An existing folder is never touched.
    """
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name or "") or keyword.iskeyword(name):
        raise WorkflowError(f"{name!r} cannot be a Python package name: use lower-case letters, digits and "
                            "underscores, starting with a letter (e.g. NAME=my_project).")
    package = resolve_package(source)
    target = Path(assignments_dir) / name
    if target.exists():
        raise WorkflowError(f"{target} already exists; it was left as it is. Choose another NAME.")
    shutil.copytree(ASSIGNMENTS_DIR / package, target, ignore=shutil.ignore_patterns(*SKIPPED))
    for path in [*target.rglob("*.py"), *target.rglob("*.md"), *target.rglob("*.ipynb")]:
        text = path.read_text()
        if package in text:
            path.write_text(text.replace(package, name))
    notebook = target / f"{package}.ipynb"
    if notebook.exists():  # the notebook is named after its package, as the originals are
        notebook.rename(target / f"{name}.ipynb")
    readme = target / "README.md"
    if readme.exists():
        lines = readme.read_text().splitlines(keepends=True)
        note = (f"\n> Started from `{package}` on {datetime.date.today().isoformat()} with `make new-assignment`. "
                f"Run it with `python -m assignments.{name}` (add `--smoke` for a quick check); grade a run with "
                f"`make grade RUN=runs/{name}/<timestamp> ARGS=\"--assignment {package}\"`.\n")
        lines.insert(1, note)
        readme.write_text("".join(lines))
    return target


def _md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def latest_finished_run(runs_dir, package):
    """The newest ``runs_dir/package/<timestamp>/`` that has a ``metrics.json`` (a finished run)."""
    parent = Path(runs_dir) / package
    finished = sorted((path for path in parent.glob("*") if (path / "metrics.json").is_file()),
                      key=lambda path: path.name)
    if not finished:
        raise WorkflowError(f"no finished run of {package} under {parent} (a finished run has metrics.json). "
                            f"Run `python -m assignments.{package}` first, or name a run folder with RUN=....")
    return finished[-1]


def _files(folder):
    return sorted(path for path in folder.rglob("*") if path.is_file()
                  and not any(part == "__pycache__" or part.endswith(".pyc") for part in path.parts)
                  and path.name not in ("grade.md", "grade.json"))


def _reported_model_files(run_path):
    """The model files that ``metrics.json`` names (``model_file`` of each result, ``chosen_model_file``)."""
    try:
        metrics = json.loads((run_path / "metrics.json").read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise WorkflowError(f"{run_path / 'metrics.json'} is unreadable ({error}); pack another run.") from None
    names = {row.get("model_file") for row in metrics.get("results", []) if isinstance(row, dict)}
    names.add(metrics.get("chosen_model_file"))
    return {str(Path(name)) for name in names if name}


def _git_commit():
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                                timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def pack_submission(source, runs_dir, out_dir, run=None):
    """Zip ``code/<package>/``, ``run/<timestamp>/`` and ``MANIFEST.json`` into ``out_dir``; returns the path.

    Args:
        source: assignment number or package name.
        runs_dir: where the runs are (``RUNS_DIR``, default ``runs/``).
        out_dir: where the archive goes; an existing archive is never overwritten (a ``-2`` suffix is added).
        run: a run folder to pack instead of the latest finished one.
    """
    package = resolve_package(source)
    run_path = Path(run) if run else latest_finished_run(runs_dir, package)
    if not (run_path / "metrics.json").is_file():
        raise WorkflowError(f"{run_path} is not a finished run (no metrics.json); finish it with --resume or "
                            "pack another run.")
    entries = {f"code/{package}/{path.relative_to(ASSIGNMENTS_DIR / package)}": path
               for path in _files(ASSIGNMENTS_DIR / package)}
    # Only the models the results name travel: the checkpoints of every tuning trial would make the archive
    # several times larger and are not graded.
    reported = _reported_model_files(run_path)
    entries.update({f"run/{run_path.name}/{path.relative_to(run_path)}": path for path in _files(run_path)
                    if path.suffix != ".keras" or str(path.relative_to(run_path)) in reported})
    manifest = {
        "assignment": package, "run": run_path.name, "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "git_commit": _git_commit(), "python": platform.python_version(),
        "files": {name: _md5(path) for name, path in entries.items()},
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    archive, number = out_dir / f"{package}-{run_path.name}.zip", 2
    while archive.exists():
        archive, number = out_dir / f"{package}-{run_path.name}-{number}.zip", number + 1
    with zipfile.ZipFile(archive, "x", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, path in entries.items():
            bundle.write(path, name)
        bundle.writestr("MANIFEST.json", json.dumps(manifest, indent=2) + "\n")
    return archive
