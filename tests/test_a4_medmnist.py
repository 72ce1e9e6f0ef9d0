"""Assignment 4 on the synthetic MedMNIST sample files: the whole --smoke run (three problems, Grad-CAM,
quantization, grading), the ChestMNIST / NoduleMNIST3D code paths, the builders, and the errors a user sees."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assignments.a4_medmnist.config import SMOKE, A4Config
from assignments.a4_medmnist.data import load_task_data
from assignments.a4_medmnist.model import (
    WeightedBinaryCrossentropy,
    build_cnn3d,
    build_custom_cnn_for_task,
    build_resnet_for_task,
    build_vgg16_for_task,
    cnn3d_gradcam_layer,
    compile_for_task,
    positive_weights_from_labels,
)
from assignments.a4_medmnist.rubric import MODELS, VARIANTS
from assignments.catalogue import grade_run
from common.config import ConfigError, make_config
from common.datasets.files import SAMPLE_MANIFEST, DataError, md5sum
from common.evaluate import evaluate_predictions
from common.grading import FAIL, PASS, SKIP

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENT = "a4_medmnist"
MODULE = f"assignments.{ASSIGNMENT}"


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", MODULE, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def smoke_run(notebook_run):
    """(run folder, metrics) of this assignment's ``--smoke`` run, made by its notebook (conftest.py), the run
    that ``make demo`` starts and that the notebook and grading tests share."""
    folder = notebook_run(4).folder
    return folder, json.loads((folder / "metrics.json").read_text())


def test_every_model_has_a_row_that_its_saved_predictions_reproduce(smoke_run):
    folder, metrics = smoke_run
    rows = {row["model"]: row for row in metrics["results"]}
    assert set(rows) == set(MODELS)
    assert {rows[name]["split"] for name in rows if name.startswith("p1")} == {"test-adrenalmnist3d"}
    assert {rows[name]["split"] for name in rows if not name.startswith("p1")} == {"test-retinamnist"}
    for name, row in rows.items():
        assert row["dataset"].endswith("-sample-synthetic") and (folder / row["model_file"]).is_file()
        saved = np.load(folder / "predictions" / f"{name}_{row['split']}.npz")
        rescored = evaluate_predictions(saved["y_true"], saved["y_score"], row["task"])
        assert rescored["accuracy"] == pytest.approx(row["accuracy"]) and rescored["auc"] == pytest.approx(row["auc"])
        assert saved["y_score"].shape == (20, 2 if name.startswith("p1") else 5)
    assert rows["p1_cnn3d_aug"]["augment"] and not rows["p1_cnn3d_noaug"]["augment"]
    assert "NOT transfer learning" in rows["p2_vgg16_frozen"]["note"]
    assert metrics["data"]["sample"] is True and metrics["seed"] == 42
    assert set(metrics["selection"]) == {"p1_cnn3d", "p2_custom_cnn", "p2_vgg16", "from_scratch_2d"}
    for entry in metrics["selection"].values():
        assert entry["candidates"][entry["chosen"]] == max(entry["candidates"].values())


def test_report_opens_with_the_banner_and_shows_tables_and_figures(smoke_run, table_problems):
    folder, _ = smoke_run
    report = (folder / "report.md").read_text()
    assert report.splitlines()[2].startswith("> **SAMPLE DATA, NOT RESULTS.**")
    for name in ("gradcam_p1_cnn3d.png", "gradcam_p2_custom_cnn.png", "gradcam_p2_vgg16.png", "gradcam_p3_resnet.png",
                 "learning_curves_p1.png", "roc_retinamnist.png", "confusion_p3_resnet.png"):
        assert (folder / "figures" / name).is_file() and f"figures/{name}" in report, name
    assert "ResNet-50 + 3D" in report and "unconfirmed" not in report and "Google AutoML Vision" in report
    assert "| full_int8 |" in report and "| qat_int8 |" in report and "NOT transfer learning" in report
    assert table_problems(report) == []


def test_quantized_models_have_int8_tensors_and_float32_agrees_with_keras(smoke_run):
    import keras

    from common.quantize import run_tflite, tensor_dtypes

    folder, metrics = smoke_run
    quantization = metrics["quantization"]
    rows = {row["variant"]: row for row in quantization["rows"]}
    assert list(rows) == list(VARIANTS) and quantization["model"] == metrics["selection"]["p2_custom_cnn"]["chosen"]
    for name in ("full_int8", "qat_int8"):
        dtypes = tensor_dtypes(folder / rows[name]["path"])
        assert dtypes["input"] == dtypes["output"] == "INT8", dtypes
        assert "INT8" in dtypes["weights"] and "FLOAT32" not in dtypes["weights"] and "INT8" in dtypes["activations"]
    assert tensor_dtypes(folder / rows["float32"]["path"])["input"] == "FLOAT32"
    assert rows["dynamic_range"]["file_bytes"] < rows["float16"]["file_bytes"] < rows["float32"]["file_bytes"]
    data = load_task_data("retinamnist", 28, make_config(A4Config, {"dataset": "sample"}))
    model = keras.models.load_model(folder / quantization["model_file"])
    np.testing.assert_allclose(run_tflite(folder / rows["float32"]["path"], data.x_test),
                               model.predict(data.x_test, verbose=0), atol=1e-5)
    assert rows["float32"]["agreement_with_keras"] == 1.0 and rows["float32"]["accuracy"] == rows["keras"]["accuracy"]
    assert any(note.startswith("QAT: 1 epoch") for note in quantization["notes"])


def test_grader_passes_the_smoke_run_and_catches_an_edited_quantization_table(smoke_run, tmp_path):
    folder, _ = smoke_run
    sheet = grade_run(folder, assignment=ASSIGNMENT, allow_sample=True)
    statuses = {item.name: item.status for item in sheet.items}
    assert sheet.verdict == PASS, [(item.name, item.evidence) for item in sheet.items if item.status == FAIL]
    floors = [name for name in statuses if "reaches" in name or name.startswith("Int8 at most")]
    assert len(floors) == 3 and all(statuses[name] == SKIP for name in floors), statuses
    edited = shutil.copytree(folder, tmp_path / folder.name)
    metrics = json.loads((edited / "metrics.json").read_text())
    metrics["quantization"]["rows"][4]["accuracy"] += 0.1  # full_int8
    (edited / "metrics.json").write_text(json.dumps(metrics))
    failed = {item.name: item.evidence for item in grade_run(edited, assignment=ASSIGNMENT, allow_sample=True).items
              if item.status == FAIL}
    assert list(failed) == ["Quantization table: every variant scored with LiteRT on the whole test split"]
    assert "full_int8: accuracy" in next(iter(failed.values()))


def test_chestmnist_and_nodulemnist3d_paths_run_on_sample_files(tmp_path):
    """Multi-label (14 sigmoid outputs, weighted BCE) and the other 3D set, in one short run."""
    from assignments.a4_medmnist.train import run

    config = make_config(A4Config, {**SMOKE, "volume_dataset": "nodulemnist3d", "image_dataset": "chestmnist",
                                    "cnn3d_augment": False, "cnn3d_compare_augmentation": False,
                                    "compare_augmentation": False, "vgg": False, "qat": False,
                                    "gradcam_per_class": 1, "latency_repeats": 3, "runs_dir": str(tmp_path),
                                    "verbose": 0})
    folder = run(config)
    metrics = json.loads((folder / "metrics.json").read_text())
    rows = {row["model"]: row for row in metrics["results"]}
    assert set(rows) == {"p1_cnn3d_noaug", "p2_custom_cnn_aug", "p3_resnet"}
    assert rows["p1_cnn3d_noaug"]["split"] == "test-nodulemnist3d" and rows["p3_resnet"]["task"] == "multi-label"
    scores = np.load(folder / "predictions" / "p2_custom_cnn_aug_test-chestmnist.npz")["y_score"]
    assert scores.shape == (20, 14) and not np.allclose(scores.sum(axis=1), 1.0), "sigmoid outputs, one per label"
    assert len(rows["p3_resnet"]["per_class"]) == 14 and 0.0 <= rows["p3_resnet"]["auc"] <= 1.0
    assert metrics["quantization"]["task"] == "multi-label" and len(metrics["quantization"]["rows"]) == 5
    report = (folder / "report.md").read_text()
    assert "ResNet-50 + 3D" in report and "Google AutoML Vision" in report and "gradcam_p2_custom_cnn.png" in report
    # The grader re-scores each row as its own task: binary for the 3D set, multi-label for ChestMNIST.
    rescored = {item.name: item for item in grade_run(folder, assignment=ASSIGNMENT, allow_sample=True).items
                if item.name.startswith("re-score")}
    assert len(rescored) == 3 and all(item.status == PASS for item in rescored.values()), rescored
    metrics["results"][0]["task"] = "regression"
    (folder / "metrics.json").write_text(json.dumps(metrics))
    failed = {item.name: item.evidence for item in grade_run(folder, assignment=ASSIGNMENT, allow_sample=True).items
              if item.status == FAIL and item.name.startswith("re-score")}
    assert list(failed) == ["re-score p1_cnn3d_noaug on test-nodulemnist3d"] and "'regression'" in next(
        iter(failed.values()))


def test_cnn3d_shapes_layers_and_gradcam():
    from common.gradcam import grad_cam

    model = build_cnn3d((16, 16, 16, 1), 2, filters=(4, 8), convs_per_stage=2, dense_units=8)
    volumes = np.random.default_rng(0).random((3, 16, 16, 16, 1), dtype=np.float32)
    probabilities = np.asarray(model(volumes, training=False))
    assert probabilities.shape == (3, 2) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv3D") == 4 and kinds.count("BatchNormalization") == 4 and kinds.count("MaxPooling3D") == 2
    assert all(layer.kernel_size == (3, 3, 3) for layer in model.layers if type(layer).__name__ == "Conv3D")
    assert model.get_layer("dropout").rate == 0.5 and model.get_layer("flatten").output.shape[-1] == 4 ** 3 * 8
    maps, classes = grad_cam(model, volumes, layer_name=cnn3d_gradcam_layer((4, 8), 2))
    assert maps.shape == (3, 16, 16, 16) and maps.min() >= 0.0 and maps.max() <= 1.0 and classes.shape == (3,)
    with pytest.raises(ValueError, match=r"\(D, H, W, C\)"):
        build_cnn3d((16, 16, 1), 2)
    with pytest.raises(ValueError, match="at least 8"):
        build_cnn3d((4, 4, 4, 1), 2, filters=(4, 8, 16))


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_task_heads_and_the_weighted_binary_cross_entropy(tmp_path):
    import keras

    images = np.random.default_rng(1).random((2, 28, 28, 1), dtype=np.float32)
    models = [build_custom_cnn_for_task((28, 28, 1), 14, "multi-label", (4, 8), 8, 0.1),
              build_resnet_for_task((28, 28, 1), 14, "multi-label", (1, 1), (4, 8)),
              build_vgg16_for_task((28, 28, 1), 14, "multi-label", weights=None, image_size=32, dense_units=8)]
    for model in models:
        assert model.layers[-1].get_config()["activation"] == "sigmoid" and model(images).shape == (2, 14)
    softmax = build_resnet_for_task((28, 28, 3), 5, "ordinal", (1, 1), (4, 8))
    assert softmax.layers[-1].get_config()["activation"] == "softmax"

    weights = positive_weights_from_labels(np.array([[1, 0, 0], [0, 0, 0], [0, 1, 0], [1, 1, 0]]))
    assert weights == [1.0, 1.0, 1.0] and positive_weights_from_labels([[1, 0], [0, 0], [0, 0], [0, 0]]) == [3.0, 1.0]
    y_true, y_pred = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.8, 0.3], [0.4, 0.6]])
    expected = np.mean([(-1 * np.log(0.8) - np.log(0.7)) / 2, (-np.log(0.6) - 3 * np.log(0.6)) / 2])
    assert float(WeightedBinaryCrossentropy([1.0, 3.0])(y_true, y_pred)) == pytest.approx(expected, rel=1e-5)

    compile_for_task(models[0], "multi-label", 1e-3, positive_weights=[2.0] * 14)
    models[0].save(tmp_path / "multi_label.keras")  # the loss is registered, so the model reloads compiled
    reloaded = keras.models.load_model(tmp_path / "multi_label.keras")
    assert reloaded.loss.positive_weights == [2.0] * 14


def test_rotation_and_zoom_augmentation_for_images_and_volumes():
    from common.augment import random_flip_and_shift, random_rotate_and_zoom
    from common.tf_setup import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    seed = tf.constant([3, 4])
    grid = np.mgrid[:21, :21] - 10.0
    disk = np.exp(-(grid ** 2).sum(axis=0) / 18.0).astype(np.float32)[..., None]  # a smooth, round blob
    turned = random_rotate_and_zoom(tf.constant(disk), seed, max_rotation=30.0).numpy()
    assert turned.shape == disk.shape and np.abs(turned - disk).max() < 0.02, "a centred round blob is unchanged"
    bar = np.zeros((21, 21, 1), np.float32)
    bar[10, 12:20] = 1.0
    assert np.abs(random_rotate_and_zoom(tf.constant(bar), seed, max_rotation=30.0).numpy() - bar).sum() > 1.0
    zoomed = random_rotate_and_zoom(tf.constant(disk), seed, max_zoom=0.3).numpy()
    assert abs(zoomed.sum() - disk.sum()) > 2, "scaling changes the blob's size"
    volume = np.repeat(bar[None], 5, axis=0)  # (D, H, W, 1): five identical slices
    turned_volume = random_rotate_and_zoom(tf.constant(volume), seed, max_rotation=30.0).numpy()
    assert turned_volume.shape == volume.shape and np.allclose(turned_volume, turned_volume[:1]), "one angle per volume"
    # Off by default, and the flips, shifts and jitter of a seed stay what they were before rotation existed.
    plain = random_flip_and_shift(tf.constant(volume), seed, (2,), 2, 0.1).numpy()
    np.testing.assert_array_equal(plain, random_flip_and_shift(tf.constant(volume), seed, (2,), 2, 0.1, 0.0, 0.0))


def test_config_checks_name_the_flag_and_the_fix():
    for overrides, message in (({"problems": (4,)}, "--problems takes one or more of 1, 2, 3"),
                               ({"volume_dataset": "retinamnist"}, "needs a 3D MedMNIST set"),
                               ({"image_dataset": "chestmnst"}, "Did you mean 'chestmnist'"),
                               ({"image_size": 48}, "published at 28, 64, 128, 224 px only"),
                               ({"volume_size": 128}, "published at 28, 64 px only"),
                               ({"cnn3d_augment": "sometimes"}, "--cnn3d-augment expects bool"),
                               ({"vgg_image_size": 28}, "at least 32"),
                               ({"resnet_blocks": (2, 2)}, "same number of stages")):
        with pytest.raises(ConfigError, match=message):
            make_config(A4Config, overrides)


@pytest.mark.parametrize("args, message", [
    (["--image-dataset", "retinamnst"], "Did you mean 'retinamnist'"),
    (["--volume-dataset", "nodulemnist3d", "--volume-size", "32"], "NoduleMNIST3D is published at 28, 64 px only"),
    (["--epoch", "3"], "Did you mean --epochs"),
])
def test_command_line_rejects_bad_flags_with_one_line(args, message):
    completed = _cli(*args, timeout=60)
    assert completed.returncode == 2 and message in completed.stderr
    assert "Traceback" not in completed.stderr and len(completed.stderr.strip().splitlines()) == 1


def _data_dir_with(tmp_path, arrays):
    """A data root whose medmnist/retinamnist.npz holds ``arrays`` (listed in a manifest, so its MD5 passes)."""
    folder = tmp_path / "data" / "medmnist"
    folder.mkdir(parents=True)
    np.savez(folder / "retinamnist.npz", **arrays)
    (folder / SAMPLE_MANIFEST).write_text(json.dumps({
        "title": "hand-made test file", "stands_in_for": ["retinamnist"], "description": "malformed on purpose",
        "md5": {"retinamnist.npz": md5sum(folder / "retinamnist.npz")}}))
    return tmp_path / "data"


def _retina_arrays(size=28):
    rng = np.random.default_rng(0)
    return {f"{split}_{kind}": (rng.integers(0, 255, (6, size, size, 3), dtype=np.uint8) if kind == "images"
                                else rng.integers(0, 5, (6, 1), dtype=np.uint8))
            for split in ("train", "val", "test") for kind in ("images", "labels")}


def test_malformed_files_give_clear_errors(tmp_path):
    arrays = _retina_arrays()
    del arrays["val_labels"]
    data_dir = _data_dir_with(tmp_path / "missing", arrays)
    with pytest.raises(DataError, match="lacks the arrays val_labels"):
        load_task_data("retinamnist", 28, make_config(A4Config, {"data_dir": str(data_dir)}))

    data_dir = _data_dir_with(tmp_path / "shape", _retina_arrays(size=64))
    runs = tmp_path / "runs"
    completed = _cli("--problems", "3", "--data-dir", str(data_dir), "--runs-dir", str(runs), timeout=120)
    assert completed.returncode == 1 and "Traceback" not in completed.stderr
    error = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "has shape (6, 64, 64, 3)" in error[0] and "size=64" in error[0]
    assert not runs.exists(), "bad data leaves no empty run folder behind"


def test_trials_study_runs_a_setting_and_writes_its_summary(tmp_path):
    from assignments.a4_medmnist.trials import main

    assert main(["--settings", "base,resnet", "--dataset", "sample", "--epochs", "1", "--seeds", "1", "--jobs", "2",
                 "--runs-dir", str(tmp_path)]) == 0
    (folder,) = (tmp_path / f"{ASSIGNMENT}_trials").iterdir()
    rows = [json.loads(line) for line in (folder / "trials.jsonl").read_text().splitlines()]
    assert sorted((row["setting"], row["seed"], row["epochs_run"]) for row in rows) == [("base", 1, 1),
                                                                                        ("resnet", 1, 1)]
    assert rows[0]["dataset"] == "retinamnist-sample-synthetic" and 0.0 <= rows[0]["test_auc"] <= 1.0
    assert (folder / "base_s1" / "test_scores.npz").is_file()
    import keras

    assert keras.models.load_model(folder / "resnet_s1" / "best.keras", compile=False).name == "resnet"
    assert keras.models.load_model(folder / "base_s1" / "best.keras", compile=False).name == "custom_cnn"
    summary = (folder / "summary.md").read_text()
    assert "| base | the assignment's defaults | 1 |" in summary and "| resnet |" in summary
    assert "| all trials | the ensemble of every trial above | 2 |" in summary
    assert "not to choose a setting" in summary


@pytest.mark.parametrize("args, message", [
    (["--settings", "nope"], "unknown setting(s) nope"),
    (["--seeds", "1,two"], "--seeds expects a comma-separated list of int"),
    (["--jobs", "0"], "--jobs must be at least 1"),
])
def test_trials_reject_bad_arguments_with_one_line(args, message, capsys):
    from assignments.a4_medmnist.trials import main

    try:
        status = main(args)
    except SystemExit as raised:
        status = raised.code
    assert status == 2 and message in capsys.readouterr().err


def test_graham_channels_keep_the_image_and_add_its_local_contrast():
    from assignments.a4_medmnist.trials import graham_channels

    flat = np.full((2, 8, 8, 3), 0.3, dtype=np.float32)
    out = graham_channels(flat, 1.0)
    assert out.shape == (2, 8, 8, 6) and np.allclose(out[..., :3], flat) and np.allclose(out[..., 3:], 0.5)
    spot = flat.copy()
    spot[0, 4, 4, 1] = 0.6  # a bright pixel stands out in its own channel of the high-pass image
    high_pass = graham_channels(spot, 1.0)[0, ..., 4]
    assert high_pass[4, 4] == high_pass.max() > 0.5 and np.allclose(graham_channels(spot, 1.0)[1, ..., 3:], 0.5)
