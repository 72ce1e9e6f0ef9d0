"""Assignment 2: the smoke run end to end, a binary run on a stand-in for the course's real PNGs, the phantom
generator, the striatum-centred crop, oversampling, the ViT builder and bad input."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assignments.a2_spect_staging.config import IMBALANCE_STRATEGIES, MODELS, SMOKE, A2Config
from assignments.a2_spect_staging.data import (
    crop_around,
    load_spect_data,
    locate_striatum,
    normalize,
    oversample_indices,
    read_spect_image,
)
from common.config import ConfigError, make_config
from common.datasets.files import DataError
from common.datasets.splits import class_weights
from common.datasets.synthetic_spect import severity_band, spect_phantom, write_spect_phantoms

REPO = Path(__file__).resolve().parents[1]
MODULE = "assignments.a2_spect_staging"


def _cli(*args):
    return subprocess.run([sys.executable, "-m", MODULE, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture(scope="module")
def smoke_run(notebook_run):
    """This assignment's --smoke run, made by its notebook (shared with the notebook and grading tests)."""
    run = notebook_run(2)
    return run.folder, run.completed


def test_smoke_run_compares_every_model_and_strategy_with_fold_spread(smoke_run, table_problems):
    folder, completed = smoke_run
    metrics = json.loads((folder / "metrics.json").read_text())
    cv = metrics["cross_validation"]
    assert cv["folds"] == 2
    assert {(row["model"], row["imbalance"]) for row in cv["candidates"]} == {
        (model, strategy) for model in MODELS for strategy in IMBALANCE_STRATEGIES}
    for row in cv["candidates"] + cv["baselines"]:
        assert len(row["balanced_accuracy_folds"]) == 2 and row["balanced_accuracy_sd"] is not None
        assert set(row["recall_mean"]) == {"stage0", "stage1", "stage2"}
        assert np.sum(row["confusion_matrix"]) == sum(metrics["data"]["train_counts"]), "each case held out once"
    assert {row["candidate"] for row in cv["baselines"]} == {"majority_baseline", "chance_baseline"}
    # The majority baseline predicts one class: its balanced accuracy is exactly 1 / classes in every fold.
    majority = next(row for row in cv["baselines"] if row["candidate"] == "majority_baseline")
    assert majority["balanced_accuracy_folds"] == pytest.approx([1 / 3, 1 / 3])
    best = max(cv["candidates"], key=lambda row: (row["balanced_accuracy_mean"], row["auc_mean"]))
    assert metrics["chosen_model"] == best["candidate"]
    assert [row["normalization"] for row in metrics["normalization_comparison"]] == ["per_image", "dataset"]

    results = {row["model"]: row for row in metrics["results"]}
    assert set(results) == {"majority_baseline", "chance_baseline", metrics["chosen_model"]}
    for name, row in results.items():
        assert row["split"] == "test" and 0.0 <= row["accuracy"] <= 1.0
        saved = np.load(folder / "predictions" / f"{name}_test.npz")
        assert saved["y_score"].shape == (len(saved["y_true"]), 3) == (row["num_samples"], 3)
    assert (folder / results[metrics["chosen_model"]]["model_file"]).is_file()
    assert metrics["data"]["sample"] is True and metrics["seed"] == 42
    assert metrics["data"]["formats"].keys() >= {".png", ".nii.gz", "DICOM series", ".dcm"}
    for name in ("examples", "crops", "cv_comparison", "confusion_cv", "confusion_test", "roc_test",
                 "learning_curves"):
        assert (folder / "figures" / f"{name}.png").stat().st_size > 5000, name
    report = (folder / "report.md").read_text()
    assert report.count("SAMPLE DATA, NOT RESULTS") == 1 and report.index("SAMPLE DATA") < 100
    assert f"Chosen on mean CV balanced accuracy: {metrics['chosen_model']}" in report
    assert "NOT transfer learning" in report and "±" in report and "not for diagnosis" in report
    assert table_problems(report) == []
    assert "Traceback" not in completed.stderr


def test_smoke_run_passes_the_grader_on_sample_data(smoke_run):
    from assignments.catalogue import grade_run
    from common.grading import FAIL, PASS, SKIP

    sheet = grade_run(smoke_run[0], assignment="a2_spect_staging", allow_sample=True)
    statuses = {item.name: item.status for item in sheet.items}
    assert sheet.verdict == PASS, {item.name: item.evidence for item in sheet.items if item.status == FAIL}
    assert statuses["Chosen model reaches test AUC 0.90 on real binary data (healthy vs Parkinson's)"] == SKIP
    chosen_item = "Model and imbalance strategy chosen on mean cross-validated balanced accuracy, not on test"
    assert statuses[chosen_item] == PASS


def test_binary_stand_in_for_the_course_pngs_trains_and_reports(tmp_path):
    """Real binary DaTscan PNGs are 91 x 109 px (healthy vs Parkinson's): a folder of such phantoms without the
    sample-data manifest runs with --data, unchanged code, and is graded as real data."""
    root = write_spect_phantoms(tmp_path / "datscan", (24, 30), shape=(109, 91), seed=3, volume_every=0)
    (root / "SAMPLE_DATA.json").unlink()
    (root / "cases.csv").unlink()
    completed = _cli("--data", str(root), "--runs-dir", str(tmp_path / "runs"), "--verbose", "0", "--folds", "2",
                     "--epochs", "3", "--models", "compact_vgg16,resnet", "--normalizations", "per_image",
                     "--vgg-filters", "8,16", "--vgg-convs", "1,1", "--resnet-blocks", "1,1", "--resnet-filters",
                     "8,16", "--batch-size", "16")
    assert completed.returncode == 0, completed.stderr[-3000:]
    folder = Path(completed.stdout.strip().splitlines()[-1])
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["data"]["task"] == "binary" and metrics["data"]["sample"] is False
    assert metrics["data"]["class_names"] == ["healthy", "parkinsons"] and metrics["data"]["image_shape"] == [109, 91]
    chosen = next(row for row in metrics["results"] if row["model"] == metrics["chosen_model"])
    saved = np.load(folder / "predictions" / f"{chosen['model']}_test.npz")
    # Binary AUC is the AUC of the positive class's score (column 1).
    from common.evaluate import binary_auc

    assert chosen["auc"] == pytest.approx(binary_auc(saved["y_true"], saved["y_score"][:, 1]))
    assert "SAMPLE DATA" not in (folder / "report.md").read_text()
    from assignments.catalogue import grade_run
    from common.grading import SKIP

    items = {item.name: item for item in grade_run(folder).items}
    floor = items["Chosen model reaches test AUC 0.90 on real binary data (healthy vs Parkinson's)"]
    assert floor.status != SKIP and "re-scored test AUC" in floor.evidence
    assert items["real data"].status != SKIP


def test_phantom_putamen_uptake_falls_with_stage_and_counts_are_as_configured(tmp_path):
    means = []
    for stage in range(3):
        low, high = severity_band(stage, 3)
        cases = [spect_phantom((low + high) / 2, [1, stage, index], noise=False, count_level=60.0)
                 for index in range(6)]
        means.append((np.mean([case.image[case.putamen].mean() for case in cases]),
                      np.mean([case.image[case.caudate].mean() for case in cases])))
    putamen, caudate = np.array(means).T
    assert putamen[0] > putamen[1] > putamen[2] and putamen[2] < 0.7 * putamen[0]
    assert np.all(putamen / caudate < [1.05, 1.0, 0.9]), "the putamen fades faster than the caudate"

    root = write_spect_phantoms(tmp_path / "phantoms", (10, 6, 3), shape=(64, 56), volume_every=3)
    counts = [len([p for p in (root / name).iterdir()]) for name in ("stage0", "stage1", "stage2")]
    assert counts == [10, 6, 3]
    with open(root / "cases.csv", newline="") as handle:
        rows = {row["path"]: row for row in csv.DictReader(handle)}
    assert len(rows) == 19 and {row["format"] for row in rows.values()} == {"png", "nii.gz", "dicom_series", "dcm"}
    assert json.loads((root / "SAMPLE_DATA.json").read_text())["stands_in_for"] == "spect_staging"
    # Each volume (NIfTI, DICOM series, one-slice DICOM; stored in RAS+ / LPS) reduces to the image of its seed in
    # the PNGs' orientation: it matches that 2D phantom better than the phantom's left-right mirror.
    volumes = [row for row in rows.values() if row["format"] != "png"]
    for row in volumes:
        image = read_spect_image(root / row["path"], volume_slices=5)
        label, index = int(row["label"][-1]), int(Path(row["path"]).name.split("_")[1].split(".")[0])
        reference = spect_phantom(float(row["severity"]), [0, label, index], shape=(64, 56), noise=False).image
        assert image.shape == (64, 56)
        correlation = np.corrcoef(image.ravel(), reference.ravel())[0, 1]
        mirrored = np.corrcoef(image.ravel(), reference[:, ::-1].ravel())[0, 1]
        assert correlation > 0.95 and correlation > mirrored + 0.01, (row["path"], correlation, mirrored)


def test_crop_recentres_a_shifted_striatum():
    case = spect_phantom(0.2, seed=5, shape=(109, 91), shift=(12.0, -9.0), rotation=0.0, noise=True, count_level=60)
    located = locate_striatum(case.image, sigma=3.0)
    assert np.hypot(located[0] - case.centre[0], located[1] - case.centre[1]) < 3.0
    crop = crop_around(case.image, located, 50)
    assert crop.shape == (50, 50)
    # In the crop, the striatum is centred; a crop around the image centre would have it 15 px off.
    in_crop = locate_striatum(crop, sigma=3.0)
    assert np.hypot(in_crop[0] - 24.5, in_crop[1] - 24.5) < 3.0
    naive = locate_striatum(crop_around(case.image, (54.0, 45.0), 50), sigma=3.0)
    assert np.hypot(naive[0] - 24.5, naive[1] - 24.5) > 10.0
    # A crop reaching past the border is padded with the image's lowest value.
    corner = crop_around(case.image, (0.0, 0.0), 50)
    assert corner.shape == (50, 50) and corner[0, 0] == case.image.min()


def test_oversampling_balances_classes_and_class_weights_equalise_them():
    labels = np.repeat([0, 1, 2], [20, 7, 3])
    index = oversample_indices(labels, seed=0)
    assert np.bincount(labels[index]).tolist() == [20, 20, 20]
    assert set(index.tolist()) == set(range(len(labels))), "every original case is kept"
    assert np.array_equal(index, oversample_indices(labels, seed=0))
    weights = class_weights(labels, 3)
    assert [weights[k] * n for k, n in enumerate([20, 7, 3])] == pytest.approx([10.0, 10.0, 10.0])


def test_normalisations_per_image_and_dataset_wide():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 100, size=(4, 8, 8, 1)).astype(np.float32) * np.array([1, 2, 3, 4])[:, None, None, None]
    per_image, _ = normalize(images, "per_image")
    assert np.percentile(per_image.reshape(4, -1), 99.5, axis=1) == pytest.approx([1.0] * 4, rel=1e-5)
    dataset, scale = normalize(images, "dataset", reference=images[:2])
    assert scale == pytest.approx(np.percentile(images[:2], 99.5))
    assert dataset[3].max() > 1.5, "dataset-wide normalisation keeps differences in level"
    with pytest.raises(ValueError, match="reference"):
        normalize(images, "dataset")


def test_vit_builder_shapes_and_save_load_round_trip(tmp_path):
    import keras

    from common.models.vit import build_vit

    model = build_vit((20, 20, 1), 3, patch_size=5, embed_dim=16, depth=2, num_heads=2, mlp_dim=32, dropout=0.1)
    assert model.get_layer("tokens").output.shape[1:] == (16, 16)
    assert model.get_layer("position_embedding").weights[0].shape == (16, 16)
    assert not any(type(layer).__name__ == "Lambda" for layer in model.layers)
    x = np.random.default_rng(0).normal(size=(4, 20, 20, 1)).astype("float32")
    scores = model.predict(x, verbose=0)
    assert scores.shape == (4, 3) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    model.save(tmp_path / "vit.keras")
    reloaded = keras.saving.load_model(tmp_path / "vit.keras")
    assert np.allclose(reloaded.predict(x, verbose=0), scores, atol=1e-6)
    # Position embeddings make the model sensitive to where a patch is (a shuffled image scores differently).
    swapped = np.concatenate([x[:, 10:], x[:, :10]], axis=1)
    assert not np.allclose(model.predict(swapped, verbose=0), scores, atol=1e-4)
    with pytest.raises(ValueError, match="patch_size"):
        build_vit((21, 20, 1), 3, patch_size=5)
    with pytest.raises(ValueError, match="num_heads"):
        build_vit((20, 20, 1), 3, patch_size=5, embed_dim=10, num_heads=3)


def _config(data, **overrides):
    return make_config(A2Config, {**SMOKE, "smoke": True, "data": str(data), **overrides})


def test_bad_inputs_mixed_sizes_unreadable_files_and_small_classes(tmp_path, capsys):
    from PIL import Image

    root = write_spect_phantoms(tmp_path / "images", (6, 5), shape=(64, 56), volume_every=0)
    (root / "SAMPLE_DATA.json").unlink()
    Image.fromarray(np.full((80, 70), 40, np.uint8)).save(root / "healthy" / "odd_size.png")
    (root / "parkinsons" / "broken.png").write_bytes(b"not a png")
    data = load_spect_data(_config(root))
    err = capsys.readouterr().err
    assert "broken.png" in err and "skipped" in err
    assert "odd_size.png" in err and "resized" in err
    assert [Path(path).name for path, _ in data.skipped] == ["broken.png"]
    assert data.image_shape == (64, 56) and data.images.shape[1:] == (32, 32, 1) and len(data.labels) == 12
    assert data.sample is None and data.title.startswith("your images")
    with pytest.raises(DataError, match=r"odd_size.png \(80x70\).*--size-mismatch resize"):
        load_spect_data(_config(root, size_mismatch="error"))

    # A class with fewer training cases than folds: the folds shrink, with a warning.
    from common.cross_validation import fold_count

    assert fold_count(5, np.repeat([0, 1], [20, 3]), ["healthy", "parkinsons"]) == 3
    assert "fewer than --folds 5" in capsys.readouterr().err
    with pytest.raises(DataError, match="'parkinsons' has 1 training case"):
        fold_count(3, np.repeat([0, 1], [20, 1]), ["healthy", "parkinsons"])
    # Too few readable cases in a class, a missing folder and a single class are clear errors.
    for path in [*sorted((root / "parkinsons").glob("parkinsons_*"))[2:], root / "parkinsons" / "broken.png"]:
        path.unlink()
    with pytest.raises(DataError, match="'parkinsons' has 2 readable case"):
        load_spect_data(_config(root))
    with pytest.raises(DataError, match="no such folder or CSV file"):
        load_spect_data(_config(tmp_path / "missing"))
    shutil.rmtree(root / "parkinsons")
    with pytest.raises(DataError, match="at least two"):
        load_spect_data(_config(root))


def test_csv_manifest_and_config_checks(tmp_path):
    root = write_spect_phantoms(tmp_path / "phantoms", (5, 4), shape=(64, 56), volume_every=2)
    data = load_spect_data(_config(root / "cases.csv", class_names=("parkinsons", "healthy")))
    assert data.class_names == ["parkinsons", "healthy"] and np.bincount(data.labels).tolist() == [4, 5]
    assert data.sample is not None, "a CSV beside SAMPLE_DATA.json is sample data"
    for bad in ({"models": ("vgg",)}, {"crop_size": 50, "vit_patch_size": 8},
                {"imbalance_strategies": ("smote",)}, {"folds": 1}):
        with pytest.raises(ConfigError):
            _config(root, **bad)


def test_resnet_subsampled_projection_computes_the_strided_one():
    """The small ResNet's projection shortcuts avoid a oneDNN crash by subsampling before a 1x1 convolution; that
    must be the same function as the strided 1x1 convolution, with the same weights."""
    from common.models.resnet import build_resnet

    strided = build_resnet((20, 20, 1), 3, (1, 1), (4, 8), name="strided")
    subsampled = build_resnet((20, 20, 1), 3, (1, 1), (4, 8), name="subsampled", subsample_projection=True)
    assert "stage2_block1_proj_subsample" in [layer.name for layer in subsampled.layers]
    rng = np.random.default_rng(0)
    for layer in strided.layers:
        if layer.weights:
            weights = [rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()]
            if isinstance(layer, type(subsampled.get_layer("stage2_block1_proj_bn"))):
                weights[-1] = np.abs(weights[-1]) + 0.5  # a positive moving variance
            layer.set_weights(weights)
            subsampled.get_layer(layer.name).set_weights(weights)
    import keras

    x = rng.normal(size=(3, 20, 20, 1)).astype("float32")
    features = [keras.Model(model.input, model.get_layer("stage2_block1_proj_bn").output).predict(x, verbose=0)
                for model in (strided, subsampled)]
    assert features[0].shape == (3, 10, 10, 8) and features[0].std() > 0.1
    assert np.allclose(features[0], features[1], atol=1e-4)
