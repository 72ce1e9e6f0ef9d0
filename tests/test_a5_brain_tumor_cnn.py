"""Assignment 5 end to end on synthetic slices: training, leakage check, report, save -> load -> predict."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assignments.a5_brain_tumor_cnn.__main__ import main
from assignments.a5_brain_tumor_cnn.config import A5Config
from common.config import ConfigError, make_config
from common.datasets.image_folders import list_image_folder, read_image
from common.datasets.samples import SAMPLES_DIR

REPO = Path(__file__).resolve().parent.parent
MODULE = "assignments.a5_brain_tumor_cnn"


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", MODULE, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def smoke_run(notebook_run):
    """This assignment's --smoke run, made by its notebook (shared with the notebook and grading tests):
    (run folder, the package name, test image paths, test labels)."""
    run = notebook_run(5)
    test_paths, test_labels, _ = list_image_folder(SAMPLES_DIR / "brain_tumor_mri" / "Testing")
    return run.folder, run.package, test_paths, test_labels


def test_run_folder_metrics_and_report(smoke_run, table_problems):
    folder = smoke_run[0]
    metrics = json.loads((folder / "metrics.json").read_text())
    chosen = metrics["chosen_model"]
    for name in ("report.md", "metrics.json", "config.json", "cnn/model.keras", "cnn/model_info.json",
                 "efficientnet_b0/best.keras", "predictions/cnn_test.npz", f"figures/gradcam_{chosen}.png",
                 f"figures/misclassified_{chosen}.png", "figures/confusion_cnn.png", "figures/learning_curves.png"):
        assert (folder / name).is_file(), name
    assert f"{chosen} (the chosen model): Grad-CAM" in (folder / "report.md").read_text()
    splits = {(row["model"], row["split"]): row for row in metrics["results"]}
    assert set(splits) == {(m, s) for m in ("cnn", "efficientnet_b0") for s in ("test", "test-deduplicated")}
    # The sample set plants two byte-identical copies of training files in Testing.
    assert metrics["duplicates"]["exact_test_in_train"] == 2
    assert splits[("cnn", "test-deduplicated")]["num_samples"] < splits[("cnn", "test")]["num_samples"]
    assert metrics["chosen_model"] in ("cnn", "efficientnet_b0")
    report = (folder / "report.md").read_text()
    assert report.split("\n", 3)[2].startswith("> **SAMPLE DATA, NOT RESULTS.**")
    assert "random initialisation" in report and "Leakage check" in report and "not for diagnosis" in report
    assert table_problems(report) == []
    leakage = report.split("Leakage check", 1)[1].split("\n## ", 1)[0]
    assert leakage.count("\n|") >= 3  # the leakage table itself: header, |---| and rows


def test_saved_model_reloads_to_identical_predictions(smoke_run):
    import keras

    folder, _, test_paths, _ = smoke_run
    info = json.loads((folder / "cnn" / "model_info.json").read_text())
    images = np.stack([read_image(p, info["image_size"], info["channels"]) for p in test_paths]).astype("float32")
    reloaded = keras.models.load_model(folder / "cnn" / "model.keras")
    saved = np.load(folder / "predictions" / "cnn_test.npz")
    np.testing.assert_allclose(reloaded.predict(images, verbose=0), saved["y_score"], atol=1e-5)


def test_predict_agrees_with_the_evaluation_and_survives_a_bad_file(smoke_run, tmp_path):
    folder, _, test_paths, _ = smoke_run
    metrics = json.loads((folder / "metrics.json").read_text())
    chosen = metrics["chosen_model"]
    saved = np.load(folder / "predictions" / f"{chosen}_test.npz")
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is not an image")
    picks = [0, 11, 25]
    completed = _cli("predict", *[str(test_paths[i]) for i in picks], str(bad), "--model", str(folder), "--json")
    assert completed.returncode == 1, "a bad file makes the exit status 1"
    output = json.loads(completed.stdout)
    names = list(saved["class_names"])
    for index, result in zip(picks, output["predictions"][:3]):
        assert result["class"] == names[int(saved["y_score"][index].argmax())]
        assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert "notes.jpg" in output["predictions"][3]["error"] and "class" not in output["predictions"][3]


def test_predict_reads_dicom_and_finds_the_newest_run(smoke_run):
    """``predict`` finds the newest run (runs/<package>/) without --model."""
    from pydicom.data import get_testdata_file

    folder, name, _, _ = smoke_run
    completed = subprocess.run([sys.executable, "-m", f"assignments.{name}", "predict",
                                get_testdata_file("CT_small.dcm"), "--runs-dir", str(folder.parents[1])], cwd=REPO,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "CT_small.dcm" in completed.stdout and "not for diagnosis" in completed.stdout


def test_predict_without_any_model_says_what_to_do(tmp_path):
    completed = _cli("predict", "scan.jpg", "--runs-dir", str(tmp_path))
    assert completed.returncode == 2 and "Train one first" in completed.stderr


def test_missing_data_explains_the_kaggle_download(tmp_path, capsys):
    status = main(["--data-dir", str(tmp_path), "--runs-dir", str(tmp_path / "runs"), "--verbose", "0"])
    assert status == 1
    error = capsys.readouterr().err
    assert "kaggle.com" in error and str(tmp_path / "brain_tumor_mri" / "Training") in error
    assert not (tmp_path / "runs").exists()


def test_config_checks():
    with pytest.raises(ConfigError, match="divisible"):
        make_config(A5Config, {"image_size": 100})
    with pytest.raises(ConfigError, match="imagenet or random"):
        make_config(A5Config, {"transfer_weights": "local"})
