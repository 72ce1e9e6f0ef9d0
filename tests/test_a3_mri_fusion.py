"""Assignment 3: the smoke run end to end, the four model builders' behaviour, slice choice, data sources,
the plane viewer command and bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assignments.a3_mri_fusion.config import SMOKE, A3Config
from assignments.a3_mri_fusion.data import choose_slice
from assignments.a3_mri_fusion.model import (
    build_early_fusion_model,
    build_late_fusion_model,
    build_resnet3d,
    build_single_slice_model,
    compile_classifier,
)
from common.config import ConfigError, make_config
from common.datasets.files import DataError

REPO = Path(__file__).resolve().parents[1]
MODULE = "assignments.a3_mri_fusion"
APPROACHES = ("single_slice", "late_fusion", "early_fusion", "resnet3d")
VOLUME = (8, 16, 16, 1)


def _cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", MODULE, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def smoke_run(notebook_run):
    """This assignment's --smoke run, made by its notebook (shared with the notebook and grading tests)."""
    run = notebook_run(3)
    return run.folder, run.completed


def test_smoke_run_compares_all_four_approaches(smoke_run, table_problems):
    folder, completed = smoke_run
    metrics = json.loads((folder / "metrics.json").read_text())
    assert [row["model"] for row in metrics["results"]] == list(APPROACHES)
    for row in metrics["results"]:
        assert (folder / row["model_file"]).is_file()
        assert (folder / "predictions" / f"{row['model']}_test.npz").is_file()
        assert row["parameters"] > 0 and row["train_seconds"] > 0 and row["latency_ms_per_volume"] > 0
        assert 0.0 <= row["accuracy"] <= 1.0
    best = max(metrics["results"], key=lambda row: (row["val_auc"] or 0.0, row["val_accuracy"]))["model"]
    assert metrics["best_on_validation"] == best
    from common.train import read_history

    for row in metrics["results"]:
        # One validation AUC: the table's is the checkpoint's, the best point of the learning curve.
        curve = read_history(folder / row["model"] / "history.csv")["val_auc"]
        assert row["val_auc"] == pytest.approx(max(curve), abs=1e-9)
    assert metrics["data"]["sample"] is True and metrics["data"]["volume_shape"] == [8, 32, 32, 1]
    for figure in ("planes_normal.png", "planes_tumour.png", "preprocessing.png", "roc_test.png", "gradcam.png"):
        assert (folder / "figures" / figure).stat().st_size > 5000, figure
    report = (folder / "report.md").read_text()
    assert report.count("SAMPLE DATA, NOT RESULTS") == 1 and f"Best on validation: {best}" in report
    assert table_problems(report) == []
    assert "WARNING" not in completed.stderr and "Traceback" not in completed.stderr


def test_saved_models_reload_and_reproduce_the_test_scores(smoke_run):
    import keras

    folder, _ = smoke_run
    metrics = json.loads((folder / "metrics.json").read_text())
    x_test = None
    for row in metrics["results"][:2]:
        model = keras.saving.load_model(folder / row["model_file"])
        saved = np.load(folder / "predictions" / f"{row['model']}_test.npz")
        if x_test is None:
            assert model.input_shape[1:] == tuple(metrics["data"]["volume_shape"])
            x_test = np.random.default_rng(0).normal(size=(3, *model.input_shape[1:])).astype("float32")
        assert model.predict(x_test, verbose=0).shape == (3, 2)
        assert saved["y_score"].shape == (len(saved["y_true"]), 2)


def test_single_slice_model_sees_only_its_slice():
    model = build_single_slice_model(VOLUME, 2, slice_index=3, filters=(4, 8))
    volume = np.random.default_rng(0).normal(size=(2, *VOLUME)).astype("float32")
    changed = volume.copy()
    changed[:, [0, 1, 2, 4, 5, 6, 7]] += 5.0
    np.testing.assert_allclose(model(volume, training=False), model(changed, training=False), atol=1e-6)
    changed[:, 3] += 5.0
    assert not np.allclose(model(volume, training=False), model(changed, training=False), atol=1e-4)


def test_late_fusion_is_a_shared_per_slice_network_pooled_over_slices():
    model = build_late_fusion_model(VOLUME, 2, filters=(4, 8))
    volume = np.random.default_rng(1).normal(size=(2, *VOLUME)).astype("float32")
    shuffled = volume[:, np.random.default_rng(2).permutation(VOLUME[0])]
    # Mean and max over slices do not depend on the slices' order; the per-slice network is shared.
    np.testing.assert_allclose(model(volume, training=False), model(shuffled, training=False), atol=1e-5)
    convolutions = [layer for layer in model.layers if "conv" in layer.name and hasattr(layer, "kernel")]
    assert convolutions and all(layer.kernel.shape[0] == 1 for layer in convolutions)


def test_early_fusion_and_resnet3d_shapes_and_slice_order_matters():
    early = build_early_fusion_model(VOLUME, 3, filters=(4, 8))
    resnet = build_resnet3d(VOLUME, 3, stage_blocks=(1, 1), stage_filters=(4, 8))
    volume = np.random.default_rng(3).normal(size=(2, *VOLUME)).astype("float32")
    for model in (early, resnet):
        scores = np.asarray(model(volume, training=False))
        assert scores.shape == (2, 3) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    assert early.get_layer("block1_conv1_conv").kernel.shape[2] == VOLUME[0], "slices are the first conv's channels"
    with pytest.raises(ValueError, match="depth, height, width, 1"):
        build_early_fusion_model((8, 16, 16), 2)
    with pytest.raises(ValueError, match="slice_index"):
        build_single_slice_model(VOLUME, 2, slice_index=8)


def test_resnet3d_learns_a_separable_toy_set():
    from common.reproducibility import set_seed

    set_seed(0)
    rng = np.random.default_rng(0)
    labels = np.arange(64) % 2
    volumes = rng.normal(0, 0.3, size=(64, *VOLUME)).astype("float32")
    volumes[labels == 1, 2:6, 4:12, 4:12] += 1.5  # a bright block in every positive volume
    model = compile_classifier(build_resnet3d(VOLUME, 2, stage_blocks=(1, 1), stage_filters=(4, 8)), 1e-2)
    model.fit(volumes, np.eye(2)[labels], epochs=8, batch_size=16, verbose=0)
    accuracy = np.mean(np.argmax(model.predict(volumes, verbose=0), axis=1) == labels)
    assert accuracy >= 0.9


def test_choose_slice_finds_the_slice_that_separates_the_classes():
    rng = np.random.default_rng(4)
    labels = np.arange(40) % 2
    volumes = rng.normal(size=(40, *VOLUME)).astype("float32")
    volumes[labels == 1, 6] += 2.0
    index, scores = choose_slice(volumes, labels, "informative")
    assert index == 6 and scores.shape == (VOLUME[0],)
    assert choose_slice(volumes, labels, "central") == (4, None)


def test_medmnist_and_folder_sources_load_to_one_shape(tmp_path):
    from assignments.a3_mri_fusion.data import load_volumes
    from common.datasets.synthetic_medmnist import write_medmnist_samples
    from common.datasets.synthetic_mri import write_mri_volume_samples

    write_medmnist_samples(tmp_path, flags=("adrenalmnist3d",), per_split=(12, 4, 6))
    config = make_config(A3Config, {"dataset": "adrenalmnist3d", "data_dir": str(tmp_path), "depth": 8,
                                    "image_size": 16, "filters_2d": (4, 8), "resnet_filters": (4, 8),
                                    "resnet_blocks": (1, 1)})
    data = load_volumes(config)
    assert data.x_train.shape == (12, 8, 16, 16, 1) and len(data.y_val) == 4 and len(data.y_test) == 6
    assert data.sample is not None and "official" in data.split and data.task == "binary"
    assert abs(float(data.x_train[0].mean())) < 1e-4, "z-score per volume"

    write_mri_volume_samples(tmp_path / "mine", cases_per_class=5, shape=(16, 20, 12))
    folder = tmp_path / "mine" / "mri_tumour"
    for source in (folder, folder / "cases.csv"):
        data = load_volumes(make_config(A3Config, {"data": str(source), "depth": 8, "image_size": 16,
                                                   "filters_2d": (4, 8)}))
        assert data.class_names == ["normal", "tumour"]
        assert len(data.y_train) + len(data.y_val) + len(data.y_test) == 10
        assert data.x_test.shape[1:] == (8, 16, 16, 1) and set(data.y_test) == {0, 1}


def test_bad_data_and_flags_give_one_clear_error(tmp_path):
    completed = _cli("--data", str(tmp_path / "nowhere"), "--runs-dir", str(tmp_path))
    assert completed.returncode == 1 and "no such folder or CSV file" in completed.stderr
    assert "Traceback" not in completed.stderr and not (tmp_path / "a3_mri_fusion").exists()
    completed = _cli("--approach", "resnet3d")
    assert completed.returncode == 2 and "--approaches" in completed.stderr
    (tmp_path / "one_class" / "normal").mkdir(parents=True)
    from assignments.a3_mri_fusion.data import load_volumes

    with pytest.raises(DataError, match="no volumes"):
        load_volumes(make_config(A3Config, {"data": str(tmp_path / "one_class")}))
    for flags in ({"approaches": ("single_slice", "transformer")}, {"image_size": 18}, {"normalization": "robust"},
                  {"resnet_blocks": (1, 1), "resnet_filters": (4, 8, 16)}):
        with pytest.raises(ConfigError):
            make_config(A3Config, {**SMOKE, **flags})


def test_view_writes_three_labelled_planes_and_never_overwrites(tmp_path):
    import nibabel

    anatomy = Path(nibabel.__file__).parent / "tests" / "data" / "anatomical.nii"
    out = tmp_path / "planes.png"
    completed = _cli("view", str(anatomy), "--out", str(out))
    assert completed.returncode == 0 and out.stat().st_size > 10000, completed.stderr
    completed = _cli("view", str(anatomy), "--out", str(out))
    assert completed.returncode == 1 and "left as it is" in completed.stderr
    (tmp_path / "broken.nii.gz").write_bytes(b"not a nifti file")
    completed = _cli("view", str(tmp_path / "broken.nii.gz"), "--out", str(tmp_path / "x.png"))
    assert completed.returncode == 1 and "broken.nii.gz" in completed.stderr and "Traceback" not in completed.stderr


def test_rubric_floor_and_split_rules_apply_to_real_data_runs(smoke_run, tmp_path):
    """The same run, relabelled as an AdrenalMNIST3D run, must fail the AUC floor and the official-split size."""
    import shutil

    from assignments.catalogue import grade_run
    from common.evaluate import evaluate_predictions
    from common.grading import FAIL

    folder = shutil.copytree(smoke_run[0], tmp_path / smoke_run[0].name)
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics["data"]["sample"] = False
    for row in metrics["results"]:
        row["dataset"] = "adrenalmnist3d_64"
        if row["model"] == metrics["best_on_validation"]:  # an uninformative model: AUC 0.5, consistently reported
            path = folder / "predictions" / f"{row['model']}_test.npz"
            saved = dict(np.load(path))
            saved["y_score"] = np.full_like(saved["y_score"], 0.5)
            np.savez_compressed(path, **saved)
            scored = evaluate_predictions(saved["y_true"], saved["y_score"], "binary")
            row["accuracy"], row["auc"] = scored["accuracy"], scored["auc"]
    (folder / "metrics.json").write_text(json.dumps(metrics))
    failed = {item.name for item in grade_run(folder, assignment="a3_mri_fusion").items if item.status == FAIL}
    assert "Best approach reaches test AUC 0.85 on a real MedMNIST 3D set" in failed
    assert "Whole official test split scored (MedMNIST data)" in failed
    assert not any(name.startswith("re-score") for name in failed), failed
    assert "All four approaches trained and scored on test" not in failed
