"""Student templates and grading, end to end: every built assignment's copy under a new name imports and
names itself; the grader scores each assignment's --smoke run (the one its notebook makes, ``notebook_run`` in
conftest.py), catches an edited metrics.json, reports missing files without crashing, and checks packed
submissions. (Assignment 1's test runs a renamed copy end to end.)"""

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from assignments.catalogue import ASSIGNMENTS, grade_run, is_built, rubric_for
from assignments.workflow import WorkflowError, new_assignment, pack_submission
from common.config import default_data_dir
from common.grading import FAIL, PASS, SKIP

REPO = Path(__file__).resolve().parents[1]
BUILT = [number for number in ASSIGNMENTS if is_built(number)]


@pytest.fixture(scope="module", params=BUILT, ids=[ASSIGNMENTS[number][0] for number in BUILT])
def smoke_run(request, notebook_run):
    """(package, run folder) of one assignment's --smoke run, made by its notebook."""
    run = notebook_run(request.param)
    return run.package, run.folder


def _failed(sheet):
    return {item.name: item.evidence for item in sheet.items if item.status == FAIL}


def test_every_copy_imports_under_its_new_name_and_its_readme_says_so(tmp_path):
    """A copy of each assignment in a folder where no other assignment exists: every module imports, the copy
    files its runs under its own name, its README and notebook name it."""
    (tmp_path / "assignments").mkdir()
    shutil.copy(REPO / "assignments" / "__init__.py", tmp_path / "assignments" / "__init__.py")
    copies = {}
    for number in BUILT:
        original, name = ASSIGNMENTS[number][0], f"student_copy_{number}"
        folder = new_assignment(name, str(number), assignments_dir=tmp_path / "assignments")
        readme = (folder / "README.md").read_text()
        assert f"python -m assignments.{name}" in readme and f"Started from `{original}`" in readme
        assert original not in (folder / "__init__.py").read_text()
        notebook = (folder / f"{name}.ipynb").read_text()
        assert f"from assignments.{name}" in notebook and original not in notebook
        assert not (folder / f"{original}.ipynb").exists()
        # rubric.py is the instructor's (it reads the official labels' fingerprints, not in a student's copy).
        copies[name] = sorted(path.stem for path in folder.glob("*.py") if path.stem not in ("__main__", "rubric"))
    program = "\n".join(["import importlib"] + [
        f"assert importlib.import_module('assignments.{name}.{module}')" for name, modules in copies.items()
        for module in modules] + [f"assert importlib.import_module('assignments.{name}.config').ASSIGNMENT == "
                                  f"'{name}'" for name in copies])
    completed = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]


def test_grade_passes_a_fresh_smoke_run_with_allow_sample(smoke_run):
    original, run_folder = smoke_run
    sheet = grade_run(run_folder, assignment=original, allow_sample=True)
    assert sheet.verdict == PASS, _failed(sheet)
    statuses = {item.name: item.status for item in sheet.items}
    assert statuses["real data"] == SKIP
    assert any(name.startswith("re-score") and status == PASS for name, status in statuses.items())
    # Without --allow-sample the same run is not a valid submission: sample data, and the floors fail.
    strict = grade_run(run_folder, assignment=original)
    assert strict.verdict == FAIL and "real data" in _failed(strict)


def test_grade_reruns_every_submitted_model_on_the_data(smoke_run):
    """The sample data are at hand, so the grader predicts the test split with every model file itself."""
    original, run_folder = smoke_run
    sheet = grade_run(run_folder, assignment=original, allow_sample=True, data_dir=default_data_dir())
    assert sheet.verdict == PASS, _failed(sheet)
    reruns = {item.name: item for item in sheet.items if item.name.startswith("re-run")}
    metrics = json.loads((run_folder / "metrics.json").read_text())
    with_models = [row for row in metrics["results"] if row.get("model_file")]
    assert len([item for item in reruns.values() if item.status == PASS]) == len(with_models), reruns
    assert all("gives the saved scores" in item.evidence for item in reruns.values() if item.status == PASS)


def _sample_test_cases(original, config):
    """Test cases in each assignment's hidden-test format, from the sample data (the mechanism, not new cases)."""
    from common.datasets.medmnist_info import medmnist_key
    from common.datasets.samples import ensure_samples
    from common.datasets.synthetic_mri import MRI_TUMOUR_FOLDER
    from common.datasets.synthetic_segmentation import EM_FOLDER
    from common.datasets.synthetic_spect import SPECT_FOLDER

    if original == "a1_usps_fcnet":
        return ensure_samples("usps") / "usps" / "zip.test.gz"
    if original == "a2_spect_staging":
        return ensure_samples("spect_phantoms", class_counts=tuple(config["synthetic_counts"]),
                              shape=tuple(config["synthetic_shape"]),
                              volume_every=config["synthetic_volume_every"]) / SPECT_FOLDER
    if original == "a3_mri_fusion":
        return ensure_samples("mri_tumour", cases_per_class=config["synthetic_cases_per_class"]) / MRI_TUMOUR_FOLDER
    if original == "a4_medmnist":
        key = medmnist_key(config["image_dataset"], config["image_size"])
        return ensure_samples("medmnist", flags=(key,)) / "medmnist" / f"{key}.npz"
    if original == "a6_segmentation":
        return ensure_samples("em_slices") / EM_FOLDER
    if original == "a7_chexnet":
        key = medmnist_key("pneumoniamnist", config["size"])
        return ensure_samples("medmnist", flags=(key,)) / "medmnist" / f"{key}.npz"
    return ensure_samples("brain_tumor_mri") / "brain_tumor_mri" / "Testing"


def test_hidden_test_set_scores_every_submitted_model(smoke_run):
    original, run_folder = smoke_run
    config = json.loads((run_folder / "config.json").read_text())
    sheet = grade_run(run_folder, assignment=original, allow_sample=True,
                      hidden_test=str(_sample_test_cases(original, config)))
    assert sheet.verdict == PASS, _failed(sheet)
    hidden = [item for item in sheet.items if item.name.startswith("hidden test")]
    assert hidden and all(item.status == PASS and "AUC" in item.evidence for item in hidden), hidden
    assert sheet.hidden and {"model", "cases", "accuracy", "auc"} <= set(sheet.hidden[0])
    assert "## Hidden test set" in sheet.to_markdown()


def test_a_hidden_test_set_that_cannot_be_read_fails_its_item(smoke_run, tmp_path):
    original, run_folder = smoke_run
    (tmp_path / "hidden.npz").write_bytes(b"not a test set")
    failed = _failed(grade_run(run_folder, assignment=original, allow_sample=True,
                               hidden_test=str(tmp_path / "hidden.npz")))
    assert "hidden test set" in failed and "hidden.npz" in failed["hidden test set"], failed


def test_grade_catches_an_edited_metrics_file(smoke_run, tmp_path):
    original, run_folder = smoke_run
    edited = shutil.copytree(run_folder, tmp_path / run_folder.name)
    metrics = json.loads((edited / "metrics.json").read_text())
    row = metrics["results"][0]
    row["accuracy"] += 0.05 if row["accuracy"] <= 0.95 else -0.05  # (a perfect smoke model is edited down)
    (edited / "metrics.json").write_text(json.dumps(metrics))
    failed = _failed(grade_run(edited, assignment=original, allow_sample=True))
    assert list(failed) == [f"re-score {row['model']} on {row['split']}"], failed
    assert "metrics.json says" in failed[f"re-score {row['model']} on {row['split']}"]


def test_grade_reports_missing_and_broken_files_without_crashing(smoke_run, tmp_path):
    original, run_folder = smoke_run
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


def test_submission_archive_is_graded_and_tampering_is_caught(smoke_run, tmp_path):
    original, run_folder = smoke_run
    archive = pack_submission(original, None, tmp_path, run=run_folder)
    with zipfile.ZipFile(archive) as bundle:
        names = bundle.namelist()
        manifest = json.loads(bundle.read("MANIFEST.json"))
    assert f"code/{original}/__main__.py" in names and f"run/{run_folder.name}/metrics.json" in names
    assert manifest["assignment"] == original and set(manifest["files"]) == set(names) - {"MANIFEST.json"}
    sheet = grade_run(archive, allow_sample=True)
    assert sheet.verdict == PASS, _failed(sheet)
    if original != "a1_usps_fcnet":
        return  # packing and the inventory are one mechanism for every assignment: the rest once, on the smallest

    second = pack_submission(original, None, tmp_path, run=run_folder)
    assert archive.exists() and second.name.endswith("-2.zip"), "an archive is never overwritten"

    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(tampered, "w") as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename.endswith("report.md"):
                data += b"\nA sentence added after packing.\n"
            target.writestr(entry, data)
    failed = _failed(grade_run(tampered, allow_sample=True))
    assert "archive inventory" in failed and "report.md" in failed["archive inventory"]
    (tmp_path / "garbage.zip").write_bytes(b"PK not really")
    assert "archive readable" in _failed(grade_run(tmp_path / "garbage.zip"))


def test_grading_command_scores_a_folder_of_runs_into_one_csv(smoke_run, tmp_path):
    original, run_folder = smoke_run
    students = tmp_path / "students"
    for student in ("ada", "grace"):
        shutil.copytree(run_folder, students / student / run_folder.name)
    (students / "ada" / run_folder.name / "report.md").unlink()
    # --no-rerun: re-running the models is tested above; this test is about the batch and its CSV.
    command = [sys.executable, "-m", "assignments", "grade", str(students), "--assignment", original, "--allow-sample",
               "--no-rerun", "--csv", str(tmp_path / "grades.csv")]
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
