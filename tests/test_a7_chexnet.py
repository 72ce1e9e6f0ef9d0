"""Assignment 7 on synthetic data in the real file layouts: the smoke run (made by the notebook), --npz files of
PneumoniaMNIST's layout, the Kermany folders split by patient, the threshold, the bootstrap interval and CAM."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assignments.a7_chexnet.config import A7Config
from common.config import ConfigError, make_config
from common.datasets.files import DataError

REPO = Path(__file__).resolve().parent.parent
MODULE = "assignments.a7_chexnet"


def _cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", MODULE, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def smoke_run(notebook_run):
    """This assignment's --smoke run, made by its notebook (shared with the notebook and grading tests)."""
    return notebook_run(7).folder


def test_run_folder_report_and_rows(smoke_run, table_problems):
    from common.evaluate import evaluate_predictions, youden_threshold
    from common.results import load_predictions, validation_prediction_file

    metrics = json.loads((smoke_run / "metrics.json").read_text())
    for name in ("report.md", "densenet121/best.keras", "compact_densenet/best.keras", "figures/roc.png",
                 "figures/heatmaps_densenet121.png", "figures/heatmaps_compact_densenet.png",
                 "figures/learning_curves.png", "predictions/densenet121_test.npz"):
        assert (smoke_run / name).is_file(), name
    rows = {row["model"]: row for row in metrics["results"]}
    assert set(rows) == {"densenet121", "compact_densenet"} and metrics["chosen_model"] in rows
    assert rows["densenet121"]["parameters"] == 7_038_529  # keras.applications.DenseNet121 + one sigmoid
    for name, row in rows.items():
        y_val, val_scores, _ = load_predictions(validation_prediction_file(smoke_run, name))
        assert row["threshold"] == pytest.approx(youden_threshold(y_val, val_scores[:, 0]))
        y_test, scores, _ = load_predictions(smoke_run / "predictions" / f"{name}_test.npz")
        scored = evaluate_predictions(y_test, scores, "binary", threshold=row["threshold"])
        assert row["balanced_accuracy"] == pytest.approx(scored["balanced_accuracy"])
        assert row["auc_low"] <= row["auc"] <= row["auc_high"]
        assert row["sensitivity"] == pytest.approx(scored["per_class"]["1"]["recall"])
    report = (smoke_run / "report.md").read_text()
    assert report.split("\n", 3)[2].startswith("> **SAMPLE DATA, NOT RESULTS.**")
    assert "95% CI (bootstrap)" in report and "Kermany et al." in report and "Youden's J" in report
    assert "random initialisation" in report and "not for diagnosis" in report
    assert table_problems(report) == []


def test_grader_passes_the_smoke_run_and_catches_a_threshold_chosen_elsewhere(smoke_run, tmp_path):
    import shutil

    from assignments.catalogue import grade_run
    from common.config import default_data_dir

    sheet = grade_run(smoke_run, assignment="a7_chexnet", allow_sample=True, data_dir=default_data_dir())
    assert sheet.verdict == "pass", [(item.name, item.evidence) for item in sheet.items if item.status == "fail"]
    edited = tmp_path / "edited"
    shutil.copytree(smoke_run, edited)
    metrics = json.loads((edited / "metrics.json").read_text())
    metrics["results"][0]["threshold"] = 0.5
    (edited / "metrics.json").write_text(json.dumps(metrics))
    failed = {item.name for item in grade_run(edited, assignment="a7_chexnet", allow_sample=True).items
              if item.status == "fail"}
    assert "Each model's threshold is Youden's J on its saved validation predictions" in failed


def _pneumonia_arrays(size=28, label_shape="column", counts=(12, 6, 6)):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, count in zip(("train", "val", "test"), counts):
        arrays[f"{split}_images"] = rng.integers(0, 255, (count, size, size), dtype=np.uint8)
        labels = (np.arange(count) % 2).astype(np.uint8)
        arrays[f"{split}_labels"] = labels[:, None] if label_shape == "column" else labels
    return arrays


@pytest.mark.parametrize("label_shape", ["column", "flat"])
def test_npz_in_pneumoniamnist_layout_is_read_without_the_official_md5(tmp_path, label_shape):
    from assignments.a7_chexnet.data import load_chest_xray_data

    path = tmp_path / "my_pneumonia.npz"
    np.savez(path, **_pneumonia_arrays(64, label_shape))
    data = load_chest_xray_data(make_config(A7Config, {"npz": str(path)}))
    assert data.x_train.shape == (12, 64, 64, 1) and data.x_train.dtype == np.float32 and data.x_train.max() <= 1
    assert data.y_test.shape == (6,) and data.counts("val") == (3, 3) and data.dataset == "pneumoniamnist"


@pytest.mark.parametrize("change, expected", [
    (lambda arrays: arrays.pop("val_labels"), "val_labels"),
    (lambda arrays: arrays.update(test_images=np.zeros((6, 28, 28, 3), np.uint8)),
     "'test_images' has shape (6, 28, 28, 3)"),
    (lambda arrays: arrays.update(train_labels=np.full((12, 1), 2, np.uint8)), "'train_labels' has values in [2, 2]"),
])
def test_npz_that_does_not_fit_names_the_key_and_the_shape(tmp_path, change, expected):
    from assignments.a7_chexnet.data import load_chest_xray_data

    arrays = _pneumonia_arrays()
    change(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as raised:
        load_chest_xray_data(make_config(A7Config, {"npz": str(path)}))
    message = str(raised.value)
    assert expected in message and str(path) in message and "\n" not in message
    assert "(N, S, S)" in message  # the layout expected


def test_missing_npz_is_one_line_and_leaves_no_run_folder(tmp_path):
    completed = _cli("--npz", str(tmp_path / "nowhere.npz"), "--runs-dir", str(tmp_path / "runs"))
    assert completed.returncode == 1 and "Traceback" not in completed.stderr
    assert str(tmp_path / "nowhere.npz") in completed.stderr and len(completed.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def _write_kermany(root, patients_per_class=8, splits=("train", "val", "test")):
    """A Kermany-layout tree of small synthetic JPEGs: several images per patient, and the same patients in
    train/ and in the official val/."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, images_per_patient in (("train", 3), ("val", 1), ("test", 1)):
        if split not in splits:
            continue
        for folder in ("NORMAL", "PNEUMONIA"):
            (root / split / folder).mkdir(parents=True)
            for patient in range(patients_per_class if split != "test" else 3):
                for image in range(images_per_patient):
                    name = (f"IM-{patient:04d}-{image + 1:04d}.jpeg" if folder == "NORMAL" else
                            f"person{patient}_{'bacteria' if image % 2 else 'virus'}_{100 * patient + image}.jpeg")
                    if split == "test":
                        name = "test-" + name
                    Image.fromarray(rng.integers(0, 255, (40, 48), dtype=np.uint8)).save(root / split / folder / name)


def test_kermany_folders_are_split_by_patient(tmp_path):
    from assignments.a7_chexnet.data import load_chest_xray_data
    from common.datasets.kermany import load_kermany_folder, patient_of

    assert [patient_of(name) for name in ("person12_bacteria_3.jpeg", "person12_virus_40.jpeg",
                                          "IM-0115-0001.jpeg", "NORMAL2-IM-0372-0001.jpeg")] == \
        ["person12", "person12", "IM-0115", "NORMAL2-IM-0372"]
    _write_kermany(tmp_path / "chest_xray")
    folders = load_kermany_folder(tmp_path / "chest_xray", 32, validation_fraction=0.25, seed=0)
    train, val = set(folders.patients["train"]), set(folders.patients["val"])
    assert train and val and not train & val, "a patient on both sides of the split"
    assert len(folders.splits["train"][1]) + len(folders.splits["val"][1]) == 2 * 8 * (3 + 1)  # val/ pooled
    assert set(folders.splits["val"][1]) == {0, 1}
    data = load_chest_xray_data(make_config(A7Config, {"data": str(tmp_path / "chest_xray"), "size": 32}))
    assert data.x_test.shape == (6, 32, 32, 1) and data.dataset == "kermany"
    assert "whole patients" in data.validation_note


def test_kermany_training_split_alone_gets_a_test_split_of_whole_patients(tmp_path):
    from assignments.a7_chexnet.data import load_chest_xray_data

    _write_kermany(tmp_path / "train_only", patients_per_class=10, splits=("train",))
    data = load_chest_xray_data(make_config(A7Config, {"data": str(tmp_path / "train_only"), "size": 32,
                                                       "test_fraction": 0.2, "validation_fraction": 0.25}))
    from common.datasets.kermany import load_kermany_folder

    folders = load_kermany_folder(tmp_path / "train_only", 32, validation_fraction=0.25, test_fraction=0.2)
    sides = [set(folders.patients[split]) for split in ("train", "val", "test")]
    assert all(sides) and not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert sum(len(folders.splits[split][1]) for split in ("train", "val", "test")) == 2 * 10 * 3
    assert set(data.y_test) == {0, 1} and "no test/" in data.test_note
    assert "no test/" in data.summary()["test"]


def test_kermany_folder_without_its_layout_names_what_is_missing(tmp_path):
    (tmp_path / "chest_xray" / "train" / "NORMAL").mkdir(parents=True)
    completed = _cli("--data", str(tmp_path / "chest_xray"), "--runs-dir", str(tmp_path / "runs"))
    assert completed.returncode == 1 and "Traceback" not in completed.stderr
    assert str(tmp_path / "chest_xray" / "train" / "PNEUMONIA") in completed.stderr
    assert "{NORMAL,PNEUMONIA}" in completed.stderr


def test_youden_threshold_and_bootstrap_interval():
    from common.evaluate import bootstrap_auc_interval, evaluate_predictions, youden_threshold

    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.85, 0.8, 0.9, 0.92, 0.95, 0.96, 0.97, 0.98, 0.99])
    threshold = youden_threshold(y, scores)
    # 0.9 misses one pneumonia and no normal (J = 7/8); 0.8 would catch every pneumonia and one normal (J = 3/4).
    assert threshold == pytest.approx(0.9)
    at_threshold = evaluate_predictions(y, scores, "binary", threshold=threshold)
    assert at_threshold["balanced_accuracy"] == pytest.approx(0.9375) and at_threshold["threshold"] == threshold
    assert evaluate_predictions(y, scores, "binary")["balanced_accuracy"] == pytest.approx(0.875)
    with pytest.raises(ValueError, match="binary"):
        evaluate_predictions(np.array([0, 1, 2]), np.eye(3), "multi-class", threshold=0.5)
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 300)
    noisy = labels + rng.normal(0, 0.8, 300)
    low, high = bootstrap_auc_interval(labels, noisy, samples=200)
    auc = evaluate_predictions(labels, 1 / (1 + np.exp(-noisy)), "binary")["auc"]
    assert low < auc < high and high - low < 0.2
    assert bootstrap_auc_interval(np.ones(5), np.arange(5.0)) == (None, None)


def test_cam_is_the_feature_maps_weighted_by_the_sigmoid_weights():
    import keras

    from common.gradcam import class_activation_map

    inputs = keras.Input((8, 8, 1))
    features = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="relu")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="pneumonia")(pooled))
    x = np.random.default_rng(0).uniform(size=(2, 8, 8, 1)).astype(np.float32)
    maps = np.asarray(keras.Model(inputs, features)(x))
    expected = np.maximum(maps @ model.get_layer("pneumonia").get_weights()[0][:, 0], 0)
    expected /= np.maximum(expected.reshape(2, -1).max(axis=1), 1e-12)[:, None, None]
    np.testing.assert_allclose(class_activation_map(model, x, "relu", "pneumonia"), expected, atol=1e-5)


@pytest.mark.parametrize("overrides, message", [
    ({"npz": "a.npz", "data": "b"}, "either --npz"),
    ({"size": 30}, "--size must be 28, 64, 128 or 224"),
    ({"input_size": 16}, "--input-size must be at least 32"),
    ({"densenet_weights": "chexpert"}, "--densenet-weights must be imagenet or random"),
    ({"baseline_blocks": (2, 2, 2, 2, 2, 2)}, "--baseline-blocks"),
])
def test_config_checks_name_the_flag(overrides, message):
    with pytest.raises(ConfigError, match=message):
        make_config(A7Config, overrides)


def _predict(*args):
    return _cli("predict", *args)


def test_predict_scores_a_labelled_folder_at_the_runs_threshold(smoke_run, tmp_path):
    _write_kermany(tmp_path / "kermany", patients_per_class=3, splits=("test",))
    metrics = json.loads((smoke_run / "metrics.json").read_text())
    row = next(row for row in metrics["results"] if row["model"] == "densenet121")
    folder = tmp_path / "kermany" / "test"
    completed = _predict(str(folder), "--run", str(smoke_run), "--model", "densenet121", "--json")
    assert completed.returncode == 0, completed.stderr
    answer = json.loads(completed.stdout)
    assert answer["model"] == "densenet121" and float(answer["threshold"]) == pytest.approx(row["threshold"])
    (scored,) = answer["folders"]
    assert (scored["images"], scored["normal"], scored["pneumonia"]) == (6, 3, 3)
    assert 0 <= scored["auc"] <= 1 and scored["threshold"] == pytest.approx(row["threshold"])
    text = _predict(str(folder), "--run", str(smoke_run))
    assert text.returncode == 0 and "balanced accuracy" in text.stdout and metrics["chosen_model"] in text.stdout
    loose = _predict(str(next((folder / "NORMAL").iterdir())), "--run", str(smoke_run))
    assert loose.returncode == 2 and "NORMAL/ and PNEUMONIA/" in loose.stderr and "Traceback" not in loose.stderr


def test_predict_without_a_usable_run_or_model_is_one_line(smoke_run, tmp_path):
    for args, expected in ((["--run", str(tmp_path)], "metrics.json does not exist"),
                           (["--run", str(smoke_run), "--model", "vgg"], "has no model 'vgg'"),
                           (["--runs-dir", str(tmp_path / "empty")], "no finished run of a7_chexnet")):
        completed = _predict(str(tmp_path), *args)
        assert completed.returncode == 2 and "Traceback" not in completed.stderr
        assert expected in completed.stderr and len(completed.stderr.strip().splitlines()) == 1
