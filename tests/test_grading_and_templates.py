"""Student templates and grading, end to end: every built assignment is copied under a new name, its copy
runs its --smoke path in a folder where no other assignment exists (the ``copied_smoke_run`` fixture in
conftest.py), and the grader scores the run, catches an edited metrics.json, reports missing files without
crashing, and checks packed submissions."""

import csv
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from assignments.catalogue import ASSIGNMENTS, grade_run, is_built, rubric_for
from assignments.workflow import WorkflowError, new_assignment, pack_submission
from common.grading import FAIL, PASS, SKIP

REPO = Path(__file__).resolve().parents[1]
BUILT = [number for number in ASSIGNMENTS if is_built(number)]


@pytest.fixture(scope="module", params=BUILT, ids=[ASSIGNMENTS[number][0] for number in BUILT])
def copied_run(request, copied_smoke_run):
    """(original package, copy name, run folder) of a --smoke run of a renamed copy of one assignment."""
    run = copied_smoke_run(request.param)
    return run.original, run.name, run.folder


def _failed(sheet):
    return {item.name: item.evidence for item in sheet.items if item.status == FAIL}


def test_copy_runs_under_its_new_name_and_its_readme_says_so(copied_run):
    original, name, run_folder = copied_run
    assert run_folder.parent.name == name, "runs are filed under the copy's own name"
    copy_folder = run_folder.parents[2] / "assignments" / name
    readme = (copy_folder / "README.md").read_text()
    assert f"python -m assignments.{name}" in readme and f"Started from `{original}`" in readme
    assert original not in (copy_folder / "__init__.py").read_text()


def test_grade_passes_a_fresh_smoke_run_with_allow_sample(copied_run):
    original, _, run_folder = copied_run
    sheet = grade_run(run_folder, assignment=original, allow_sample=True)
    assert sheet.verdict == PASS, _failed(sheet)
    statuses = {item.name: item.status for item in sheet.items}
    assert statuses["real data"] == SKIP
    assert any(name.startswith("re-score") and status == PASS for name, status in statuses.items())
    # Without --allow-sample the same run is not a valid submission: sample data, and the floors fail.
    strict = grade_run(run_folder, assignment=original)
    assert strict.verdict == FAIL and "real data" in _failed(strict)


def test_grade_catches_an_edited_metrics_file(copied_run, tmp_path):
    original, _, run_folder = copied_run
    edited = shutil.copytree(run_folder, tmp_path / run_folder.name)
    metrics = json.loads((edited / "metrics.json").read_text())
    row = metrics["results"][0]
    row["accuracy"] = min(1.0, row["accuracy"] + 0.05)
    (edited / "metrics.json").write_text(json.dumps(metrics))
    failed = _failed(grade_run(edited, assignment=original, allow_sample=True))
    assert list(failed) == [f"re-score {row['model']} on {row['split']}"], failed
    assert "metrics.json says" in failed[f"re-score {row['model']} on {row['split']}"]


def test_grade_reports_missing_and_broken_files_without_crashing(copied_run, tmp_path):
    original, _, run_folder = copied_run
    broken = shutil.copytree(run_folder, tmp_path / run_folder.name)
    (broken / "report.md").unlink()
    first_prediction = sorted((broken / "predictions").glob("*.npz"))[0]
    first_prediction.write_bytes(b"not an npz")
    failed = _failed(grade_run(broken, assignment=original, allow_sample=True))
    assert "artefact report.md" in failed and failed["artefact report.md"] == "no such file"
    assert any(first_prediction.name in evidence for evidence in failed.values())

    (broken / "metrics.json").write_text("{ truncated")
    sheet = grade_run(broken, assignment=original, allow_sample=True)
    assert "metrics.json readable" in _failed(sheet) and sheet.verdict == FAIL


def test_unknown_assignment_and_empty_folder_are_reported(tmp_path):
    sheet = grade_run(tmp_path, assignment="a9_nothing")
    assert sheet.verdict == FAIL and "assignment known" in _failed(sheet)
    with pytest.raises(LookupError, match="known assignments"):
        rubric_for("a9_nothing")
    empty = tmp_path / "runs" / "a1_usps_fcnet" / "20260101-000000"
    empty.mkdir(parents=True)
    failed = _failed(grade_run(empty))
    assert "metrics.json readable" in failed and "artefact report.md" in failed


def test_submission_archive_is_graded_and_tampering_is_caught(copied_run, tmp_path):
    original, _, run_folder = copied_run
    archive = pack_submission(original, None, tmp_path, run=run_folder)
    second = pack_submission(original, None, tmp_path, run=run_folder)
    assert archive.exists() and second.name.endswith("-2.zip"), "an archive is never overwritten"
    with zipfile.ZipFile(archive) as bundle:
        names = bundle.namelist()
        manifest = json.loads(bundle.read("MANIFEST.json"))
    assert f"code/{original}/__main__.py" in names and f"run/{run_folder.name}/metrics.json" in names
    assert manifest["assignment"] == original and set(manifest["files"]) == set(names) - {"MANIFEST.json"}
    sheet = grade_run(archive, allow_sample=True)
    assert sheet.verdict == PASS, _failed(sheet)

    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(tampered, "w") as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename.endswith("report.md"):
                data += b"\nA sentence added after packing.\n"
            target.writestr(entry, data)
    failed = _failed(grade_run(tampered, allow_sample=True))
    assert "archive manifest" in failed and "report.md" in failed["archive manifest"]
    (tmp_path / "garbage.zip").write_bytes(b"PK not really")
    assert "archive readable" in _failed(grade_run(tmp_path / "garbage.zip"))


def test_grading_command_scores_a_folder_of_runs_into_one_csv(copied_run, tmp_path):
    original, _, run_folder = copied_run
    students = tmp_path / "students"
    for student in ("ada", "grace"):
        shutil.copytree(run_folder, students / student / run_folder.name)
    (students / "ada" / run_folder.name / "report.md").unlink()
    command = [sys.executable, "-m", "assignments", "grade", str(students), "--assignment", original, "--allow-sample",
               "--csv", str(tmp_path / "grades.csv")]
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 1, "one student fails, so the command reports failure"
    with open(tmp_path / "grades.csv") as handle:
        rows = {Path(row["submission"]).parent.name: row for row in csv.DictReader(handle)}
    assert rows["grace"]["verdict"] == "pass" and rows["ada"]["verdict"] == "fail"
    assert "report.md" in rows["ada"]["failed_items"]
    assert (students / "grace" / run_folder.name / "grade.md").read_text().count("| pass |") > 5
    assert json.loads((students / "ada" / run_folder.name / "grade.json").read_text())["verdict"] == "fail"


def test_new_assignment_refuses_bad_requests(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(WorkflowError, match="already exists"):
        new_assignment("taken", "1", assignments_dir=tmp_path)
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    with pytest.raises(WorkflowError, match="package name"):
        new_assignment("My-Project", "1", assignments_dir=tmp_path)
    with pytest.raises(WorkflowError, match="no assignment"):
        new_assignment("fine_name", "a9_nothing", assignments_dir=tmp_path)
    with pytest.raises(WorkflowError, match="no finished run"):
        pack_submission("1", tmp_path / "no_runs", tmp_path)
