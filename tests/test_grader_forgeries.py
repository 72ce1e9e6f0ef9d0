"""The grader against forged submissions: each forgery fails a named item.

The three forgeries of the issue, made on a real run where one is at hand (``make test-real``) and on a
--smoke run otherwise (the grader re-runs a smoke run's models on the sample data, which are always at hand):

- labels, scores and metrics rewritten together (a perfect score claimed as a real-data run);
- a submission archive unpacked, edited, re-hashed into its MANIFEST.json and packed again;
- one model file swapped for another model's.

And the batch: ten submissions, one of them damaged in every way the grader must survive, give one CSV of ten rows.
"""

import csv
import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from assignments.catalogue import grade_run
from assignments.workflow import pack_submission
from common.config import default_data_dir
from common.grading import FAIL, PASS
from common.results import load_predictions, prediction_file

REPO = Path(__file__).resolve().parents[1]
A1 = "a1_usps_fcnet"


def _failed(sheet):
    return {item.name: item.evidence for item in sheet.items if item.status == FAIL}


def forge_perfect_scores(run_folder, labels=None):
    """Rewrite every prediction file to one-hot scores of ``labels`` (default: the saved ones), metrics.json to
    match (accuracy and AUC 1.0, real data) and config.json to claim the real data."""
    metrics = json.loads((run_folder / "metrics.json").read_text())
    for row in metrics["results"]:
        path = prediction_file(run_folder, row["model"], row["split"])
        y_true, y_score, names = load_predictions(path)
        y_true = y_true if labels is None else np.asarray(labels)
        y_score = np.eye(y_score.shape[1], dtype=np.float32)[y_true]
        np.savez(path, y_true=y_true, y_score=y_score, class_names=np.asarray(names))
        row.update(accuracy=1.0, auc=1.0, num_samples=len(y_true), dataset="usps")
    metrics["data"].update(sample=False, title="USPS handwritten digits (ESL text form)")
    (run_folder / "metrics.json").write_text(json.dumps(metrics))
    config = json.loads((run_folder / "config.json").read_text())
    (run_folder / "config.json").write_text(json.dumps({**config, "dataset": "usps", "smoke": False}))


def rehash_archive(archive, edit, out):
    """Unpack ``archive``, let ``edit(run_folder)`` change it, recompute MANIFEST.json's MD5s, pack ``out``."""
    work = out.with_suffix("")
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(work)
    edit(next((work / "run").iterdir()))
    manifest = json.loads((work / "MANIFEST.json").read_text())
    manifest["files"] = {str(path.relative_to(work)): hashlib.md5(path.read_bytes()).hexdigest()
                         for path in sorted(work.rglob("*")) if path.is_file() and path.name != "MANIFEST.json"}
    (work / "MANIFEST.json").write_text(json.dumps(manifest))
    with zipfile.ZipFile(out, "w") as bundle:
        for path in sorted(work.rglob("*")):
            if path.is_file():
                bundle.write(path, str(path.relative_to(work)))
    return out


def swap_model_file(run_folder):
    """Put the comparison CNN's model file where the FC network's is; returns the FC network's result name."""
    metrics = json.loads((run_folder / "metrics.json").read_text())
    files = {row["model"]: row["model_file"] for row in metrics["results"]}
    shutil.copy(run_folder / files["small_cnn"], run_folder / files["fc_net"])
    return "fc_net"


def check_forgeries(run_folder, tmp_path, data_dir, sample):
    """Grade ``run_folder`` as it is (its models give its saved scores), then each forgery of it; returns
    {forgery: the failed items of its score sheet}."""
    options = {"assignment": A1, "allow_sample": sample, "data_dir": str(data_dir)}
    honest = grade_run(run_folder, **options)
    if sample:
        assert honest.verdict == PASS, _failed(honest)
    reruns = {item.name: item.status for item in honest.items if item.name.startswith("re-run")}
    assert reruns and set(reruns.values()) == {PASS}, reruns

    rewritten = shutil.copytree(run_folder, tmp_path / "rewritten")
    forge_perfect_scores(rewritten)
    archive = pack_submission(A1, None, tmp_path / "packed", run=run_folder)
    edited = rehash_archive(archive, forge_perfect_scores, tmp_path / "edited.zip")
    edited_sheet = grade_run(edited, **options)
    inventory = {item.name: item.status for item in edited_sheet.items}["archive inventory"]
    assert inventory == PASS, "the re-hashed archive looks intact; only the re-run can tell"
    swapped = shutil.copytree(run_folder, tmp_path / "swapped")
    swap_model_file(swapped)
    return {"rewritten": _failed(grade_run(rewritten, **options)), "re-hashed archive": _failed(edited_sheet),
            "swapped model": _failed(grade_run(swapped, **options))}


def test_forgeries_of_a_smoke_run_each_fail_a_named_item(copied_smoke_run, tmp_path):
    failed = check_forgeries(copied_smoke_run(1).folder, tmp_path, default_data_dir(), sample=True)
    # The forged run claims the real USPS, which is not at hand here: its labels are not USPS's official ones.
    assert "official test split" in failed["rewritten"]["official labels of usps test"]
    assert "official labels of usps test" in failed["re-hashed archive"]
    assert "does not give the saved scores" in failed["swapped model"]["re-run fc_net on test"]


def test_forged_labels_fail_the_fingerprint_without_any_data(copied_smoke_run, tmp_path):
    """No data at hand: the re-run is skipped, and labels that are not USPS's official ones fail anyway."""
    forged = shutil.copytree(copied_smoke_run(1).folder, tmp_path / "forged")
    forge_perfect_scores(forged)
    sheet = grade_run(forged, assignment=A1, data_dir=str(tmp_path / "no_data"))
    statuses = {item.name: item.status for item in sheet.items}
    assert statuses["re-run on the test data"] == "skip"
    assert "official test" in _failed(sheet)["official labels of usps test"]


def _damage(folder):
    """Every kind of damage at once: a corrupt prediction file, bad JSON, a model that will not load."""
    first = sorted((folder / "predictions").glob("*.npz"))[0]
    first.write_bytes(first.read_bytes()[:200])
    (folder / "config.json").write_text("{ not json")
    for model in folder.rglob("*.keras"):
        model.write_bytes(b"PK\x03\x04 not a keras file")


def test_ten_submissions_one_damaged_grade_to_one_csv_of_ten_rows(copied_smoke_run, tmp_path):
    run = copied_smoke_run(1)
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    archive = pack_submission(A1, None, tmp_path / "packed", run=run.folder)
    for number in range(8):
        shutil.copy(archive, submissions / f"student{number:02d}.zip")
    (submissions / "student08.zip").write_bytes(b"this is not a zip file")
    damaged = shutil.copytree(run.folder, submissions / "student09" / run.folder.name)
    _damage(damaged)
    command = [sys.executable, "-m", "assignments", "grade", str(submissions), "--assignment", A1, "--allow-sample",
               "--csv", str(tmp_path / "grades.csv")]
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert "Traceback" not in completed.stderr, completed.stderr[-2000:]
    assert completed.returncode == 1
    with open(tmp_path / "grades.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 10
    verdicts = {Path(row["submission"].split(":")[0]).stem: row for row in rows}
    assert [verdicts[f"student{number:02d}"]["verdict"] for number in range(8)] == ["pass"] * 8
    assert "archive readable" in verdicts["student08"]["failed_items"]
    damaged_row = next(row for row in rows if "student09" in row["submission"])
    assert damaged_row["verdict"] == "fail"
    for item in ("config.json readable", "cannot be scored", "not a Keras"):
        assert item in damaged_row["failed_items"], (item, damaged_row["failed_items"])


@pytest.mark.slow
def test_forgeries_of_a_real_run_each_fail_a_named_item(tmp_path):
    """A short real A1 run (one tuning trial, a few epochs) on USPS in DATA_DIR, then the three forgeries."""
    data_dir = Path(default_data_dir())
    if not (data_dir / "usps" / "zip.test.gz").exists():
        pytest.skip(f"real USPS files not found in DATA_DIR ({data_dir})")
    completed = subprocess.run(
        [sys.executable, "-m", "assignments.a1_usps_fcnet", "--data-dir", str(data_dir), "--runs-dir",
         str(tmp_path / "runs"), "--num-trials", "1", "--epochs", "3", "--cnn-epochs", "2", "--verbose", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stderr[-3000:]
    run_folder = Path(completed.stdout.strip().splitlines()[-1])
    failed = check_forgeries(run_folder, tmp_path, data_dir, sample=False)
    for forgery, items in failed.items():
        assert "does not give the saved scores" in items.get("re-run fc_net on test", ""), (forgery, items)
