"""Assignment 1 end to end on the stand-in sample digits: CLI, run folder, report, reproducibility."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assignments.a1_usps_fcnet.__main__ import main
from assignments.a1_usps_fcnet.config import SMOKE, A1Config, parse_hidden_units
from assignments.a1_usps_fcnet.model import build_fc_net, build_small_cnn
from common.config import ConfigError, make_config
from common.evaluate import evaluate_predictions

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def smoke_runs(notebook_run, copied_smoke_run):
    """Two smoke runs with the same seed: the notebook's (``notebook_run``) and the command line's in a renamed
    copy (``copied_smoke_run``); returns (folders, completed processes)."""
    notebook, copy = notebook_run(1), copied_smoke_run(1)
    return [notebook.folder, copy.folder], [notebook.completed, copy.completed]


def test_run_folder_has_every_artefact(smoke_runs):
    folder = smoke_runs[0][0]
    assert folder.parent.name == "a1_usps_fcnet" and folder.is_dir()
    for name in ("config.json", "metrics.json", "report.md", "predictions/fc_net_test.npz",
                 "predictions/small_cnn_test.npz", "figures/learning_curves.png",
                 "figures/confusion_fc_net.png", "figures/roc_small_cnn.png", "figures/misclassified_fc_net.png",
                 "fc_trial_1/best.keras", "small_cnn/history.csv"):
        assert (folder / name).is_file(), name


def test_metrics_and_report_are_complete_and_honest(smoke_runs, table_problems):
    folder = smoke_runs[0][0]
    metrics = json.loads((folder / "metrics.json").read_text())
    rows = {row["model"]: row for row in metrics["results"]}
    assert set(rows) == {"fc_net", "small_cnn"}
    for row in rows.values():
        assert row["split"] == "test" and row["dataset"] == "usps-sample-stand-in"
        assert 0.0 <= row["accuracy"] <= 1.0 and 0.0 <= row["auc"] <= 1.0
        assert row["parameters"] > 0 and row["flops_per_image"] > 0 and row["latency_batch1_ms"] > 0
    assert metrics["data"]["sample"] is True and len(metrics["tuning"]) == SMOKE["num_trials"]
    report = (folder / "report.md").read_text()
    assert "SAMPLE DATA, NOT RESULTS" in report.split("\n## ")[0]
    assert "Hyper-parameter search" in report and "misclassified_fc_net.png" in report
    assert table_problems(report) == []
    config = json.loads((folder / "config.json").read_text())
    assert config["smoke"] is True and config["dataset"] == "sample" and config["data"] == ""


def test_saved_predictions_rescore_to_the_reported_metrics(smoke_runs):
    folder = smoke_runs[0][0]
    metrics = json.loads((folder / "metrics.json").read_text())
    for row in metrics["results"]:
        saved = np.load(folder / "predictions" / f"{row['model']}_test.npz")
        rescored = evaluate_predictions(saved["y_true"], saved["y_score"], "multi-class")
        assert rescored["accuracy"] == pytest.approx(row["accuracy"])
        assert rescored["auc"] == pytest.approx(row["auc"])


def test_same_seed_same_metrics(smoke_runs):
    first, second = (json.loads((folder / "metrics.json").read_text()) for folder in smoke_runs[0])
    for a, b in zip(first["results"], second["results"]):
        assert (a["model"], a["accuracy"], a["auc"]) == (b["model"], b["accuracy"], b["auc"])
    assert [t["val_accuracy"] for t in first["tuning"]] == [t["val_accuracy"] for t in second["tuning"]]


def test_terminal_output_is_clean(smoke_runs):
    completed = smoke_runs[1][1]  # the command line's
    assert "I0000" not in completed.stderr and "cuInit" not in completed.stderr


def test_help_and_bad_flags_answer_quickly():
    completed = subprocess.run([sys.executable, "-m", "assignments.a1_usps_fcnet", "--help"], cwd=REPO,
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0 and "--hidden-units-options" in completed.stdout
    assert "tensorflow" not in completed.stderr.lower()
    with pytest.raises(SystemExit) as exit_info:
        main(["--epoch", "3"])
    assert exit_info.value.code == 2


def test_missing_data_offline_gives_one_clear_error(tmp_path, capsys, monkeypatch):
    # An unreachable download address stands in for "no network".
    from common.datasets import registry
    from common.datasets.registry import RemoteFile

    info = registry.REGISTRY["usps"]
    offline = [RemoteFile(f.name, f.md5, "http://127.0.0.1:9/" + f.name) for f in info.files]
    monkeypatch.setitem(registry.REGISTRY, "usps", dataclasses.replace(info, files=tuple(offline)))
    status = main(["--data-dir", str(tmp_path / "data"), "--runs-dir", str(tmp_path / "runs"), "--verbose", "0"])
    assert status == 1
    error = capsys.readouterr().err
    assert "zip.train.gz" in error and "206835541ea704bcfb4b6eea872678bf" in error and "by hand" in error
    assert not (tmp_path / "data").exists(), "a failed download removes the folders it made"
    assert not (tmp_path / "runs").exists(), "a run that cannot load its data leaves no run folder"


def test_config_validation_and_model_builders():
    assert parse_hidden_units("512x256") == (512, 256)
    with pytest.raises(ConfigError, match="512x256"):
        make_config(A1Config, {"hidden_units_options": ("512",)})
    with pytest.raises(ConfigError, match="--dataset must be one of usps, sample"):
        make_config(A1Config, {"dataset": "imagenet"})
    fc = build_fc_net(hidden_units=(32, 16), augment=False)
    assert [layer.name for layer in fc.layers if "hidden" in layer.name] == ["hidden_1", "hidden_2"]
    assert fc.count_params() == 256 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10
    assert fc.output.shape == (None, 10)
    assert build_small_cnn(filters=(4, 8)).output.shape == (None, 10)
    with pytest.raises(ValueError, match="two hidden layers"):
        build_fc_net(hidden_units=(8,))


