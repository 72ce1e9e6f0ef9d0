"""The student release: markers, the copy, its checks, and the solution put back.

A release replaces every marked block by ``raise NotImplementedError("<file>: TODO: <hint>")``; its checks fail
naming each TODO. With every block put back from the solution, every file is byte-identical to the solution's,
and the checks and a --smoke run pass in the copy.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assignments.catalogue import ASSIGNMENTS
from assignments.release import MarkerError, marked_blocks, release, restore_solutions, strip_solutions

REPO = Path(__file__).resolve().parents[1]
SOLUTION = ("def f(x):\n    # TODO: return twice x\n    #       (as a float)\n    # BEGIN SOLUTION\n"
            "    return 2.0 * x\n    # END SOLUTION\n")


def _marked_files(root):
    return sorted(path for path in (root / "assignments").rglob("*.py") if marked_blocks(path.read_text()))


def _run(command, cwd, timeout=600):
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(command, cwd=cwd, env={**environment, "TF_CPP_MIN_LOG_LEVEL": "2"}, capture_output=True,
                          text=True, timeout=timeout)


def test_a_marked_block_becomes_its_hint_and_comes_back():
    assert marked_blocks(SOLUTION) == [(3, 5, "    ", "return twice x (as a float)")]
    stripped = strip_solutions(SOLUTION, "f.py")
    assert "return 2.0" not in stripped and "# BEGIN SOLUTION" in stripped
    assert "raise NotImplementedError('f.py: TODO: return twice x (as a float)')" in stripped
    namespace = {}
    exec(stripped, namespace)  # noqa: S102 (the stripped module stays importable)
    with pytest.raises(NotImplementedError, match="TODO: return twice x"):
        namespace["f"](1)
    assert restore_solutions(stripped, SOLUTION) == SOLUTION


@pytest.mark.parametrize("text, problem", [
    ("    # BEGIN SOLUTION\n    x = 1\n    # END SOLUTION\n", "needs a '# TODO: <hint>'"),
    ("    # TODO: x\n    # BEGIN SOLUTION\n    x = 1\n", "without its # END SOLUTION"),
    ("    x = 1\n    # END SOLUTION\n", "without a # BEGIN SOLUTION"),
    ("    # TODO: x\n    # BEGIN SOLUTION\n    x = 1\n  # END SOLUTION\n", "not indented like"),
])
def test_malformed_markers_are_refused_with_the_line(text, problem):
    with pytest.raises(MarkerError, match=problem):
        marked_blocks(text, "bad.py")


def test_every_assignment_marks_its_parts_and_round_trips():
    marked = {path.relative_to(REPO).parts[1] for path in _marked_files(REPO)}
    assert marked == {package for package, _ in ASSIGNMENTS.values()}
    for path in _marked_files(REPO):
        text = path.read_text()
        assert restore_solutions(strip_solutions(text, path.name), text, path.name) == text


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    destination = tmp_path_factory.mktemp("release") / "course"
    release(destination)
    return destination


def test_release_never_writes_into_an_existing_folder(released):
    with pytest.raises(FileExistsError, match="left as it is"):
        release(released)


def test_release_leaves_out_the_grader_and_keeps_everything_else(released):
    assert not list(released.rglob("rubric.py")) and not list(released.rglob("fingerprints.py"))
    assert not (released / "tests").exists() and not (released / ".ci").exists()
    marked = {path.relative_to(REPO) for path in _marked_files(REPO)}
    for path in (REPO / "common").rglob("*.py"):
        assert (released / path.relative_to(REPO)).read_bytes() == path.read_bytes()
    for path in (REPO / "assignments").rglob("*"):
        relative = path.relative_to(REPO)
        if path.is_file() and relative not in marked and path.name not in ("rubric.py", "fingerprints.py") \
                and "__pycache__" not in relative.parts:
            assert (released / relative).read_bytes() == path.read_bytes(), relative


def test_student_checks_fail_on_every_todo_with_its_hint(released):
    completed = _run([sys.executable, "-m", "assignments", "check", "all"], released, timeout=600)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr, completed.stderr
    reports = completed.stdout.split("Checks of ")[1:]
    assert sorted(report.split(":")[0] for report in reports) == sorted(
        f"assignments/{package}" for package, _ in ASSIGNMENTS.values()), completed.stdout
    for report in reports:
        package = report.split(":")[0].split("/")[1]
        assert "\n0 passed" in report, report
        for path in _marked_files(REPO):
            if path.parent.name == package:
                for *_, hint in marked_blocks(path.read_text()):
                    assert hint in report, (path.name, hint, report)


def test_with_the_solution_put_back_the_copy_is_the_solution_and_passes(released):
    for path in _marked_files(REPO):
        target = released / path.relative_to(REPO)
        target.write_text(restore_solutions(target.read_text(), path.read_text(), str(path)))
        assert target.read_bytes() == path.read_bytes()
    completed = _run([sys.executable, "-m", "assignments", "check", "all"], released, timeout=600)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.count("Checks of ") == len(ASSIGNMENTS), completed.stdout
    # Every file is now the solution's byte for byte; one --smoke run shows the copy runs as the solution does
    # (the solution's own --smoke runs are tested per assignment).
    completed = _run([sys.executable, "-m", "assignments.a1_usps_fcnet", "--smoke", "--verbose", "0", "--runs-dir",
                      str(released / "runs")], released)
    assert completed.returncode == 0, completed.stderr[-3000:]
