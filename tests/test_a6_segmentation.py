"""Assignment 6 and the segmentation parts of ``common``: the metrics against hand-worked examples, the loss,
tiling, paired augmentation, the U-Net builders (a U-Net learns a disc), the folder loaders and their errors,
the smoke runs in 2D and 3D, ``evaluate``, and the grader on a segmentation run."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assignments.catalogue import grade_run
from common.config import default_data_dir
from common.datasets.files import DataError
from common.datasets.segmentation_folders import load_segmentation_folder
from common.evaluate import evaluate_predictions
from common.grading import FAIL, PASS
from common.models.unet import attention_layer_names, build_unet
from common.segmentation import (
    DiceCrossEntropy,
    adapted_rand_error,
    augment_pair,
    predict_tiled,
    quantize_scores,
    scores_from_confusion,
    segmentation_scores,
)

REPO = Path(__file__).resolve().parents[1]
MODULE = "assignments.a6_segmentation"


def _cli(*args, cwd=REPO, timeout=600):
    return subprocess.run([sys.executable, "-m", MODULE, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def test_dice_and_iou_against_a_hand_worked_example():
    # Truth [[0, 1], [1, 1]], prediction [[0, 1], [0, 1]]: class 0 has TP 1, FP 1, FN 0 -> Dice 2/3, IoU 1/2;
    # class 1 has TP 2, FP 0, FN 1 -> Dice 4/5, IoU 2/3; one pixel of four wrong.
    truth = np.array([[[0, 1], [1, 1]]])
    scores = np.eye(2)[np.array([[[0, 1], [0, 1]]])]
    result = segmentation_scores(truth, scores, ["background", "object"])
    assert result["per_class"]["background"]["dice"] == pytest.approx(2 / 3)
    assert result["per_class"]["background"]["iou"] == pytest.approx(1 / 2)
    assert result["per_class"]["object"]["dice"] == pytest.approx(4 / 5)
    assert result["per_class"]["object"]["iou"] == pytest.approx(2 / 3)
    assert result["pixel_error"] == pytest.approx(0.25) and result["mean_dice"] == pytest.approx((2 / 3 + 4 / 5) / 2)


def test_a_class_absent_from_truth_and_prediction_has_no_dice():
    scores = scores_from_confusion([[4, 0, 0], [0, 2, 0], [0, 0, 0]], ["a", "b", "c"])
    assert scores["per_class"]["c"]["dice"] is None and scores["mean_dice"] == pytest.approx(1.0)


def test_the_evaluator_scores_segmentation_under_the_common_keys():
    truth = np.zeros((2, 4, 4), int)
    truth[:, 1:3, 1:3] = 1
    result = evaluate_predictions(truth, np.eye(2)[truth], "segmentation", ["bg", "fg"])
    assert result["accuracy"] == 1.0 and result["auc"] is None and result["macro_f1"] == 1.0
    assert result["num_samples"] == 2 and result["num_pixels"] == 32


def test_adapted_rand_error_counts_merged_regions():
    truth = np.zeros((8, 8), int)
    truth[:, :3], truth[:, 5:] = 1, 1  # two cells split by a membrane
    assert adapted_rand_error(truth, truth) == 0.0
    merged = np.ones((8, 8), int)  # the membrane missed: one region
    assert adapted_rand_error(truth, merged) > 0.2


def test_dice_loss_is_zero_only_for_a_perfect_prediction():
    truth = np.eye(2, dtype="float32")[np.random.default_rng(0).integers(0, 2, (2, 8, 8))]
    loss = DiceCrossEntropy()
    perfect = float(loss(truth, np.clip(truth, 1e-7, 1 - 1e-7)))
    assert perfect < 1e-3 and float(loss(truth, np.full_like(truth, 0.5))) > 0.5


def test_tiled_prediction_equals_the_model_on_a_constant_per_pixel_model():
    import keras

    inputs = keras.Input((None, None, 1))
    model = keras.Model(inputs, keras.layers.Concatenate()([inputs, 1 - inputs]))  # scores from the pixel itself
    images = np.random.default_rng(0).random((2, 50, 70, 1), dtype=np.float32)
    tiled = predict_tiled(model, images, 32, overlap=0.5)
    assert tiled.shape == (2, 50, 70, 2)
    assert np.allclose(tiled[..., 0], images[..., 0], atol=1e-5), "tiles must be put back where they came from"


def test_paired_augmentation_moves_image_and_mask_together():
    rng = np.random.default_rng(0)
    mask = np.zeros((32, 32), int)
    mask[4:12, 6:20] = 1
    image = mask[..., None].astype("float32")
    for _ in range(5):
        moved_image, moved_mask = augment_pair(image, mask, rng, elastic_alpha=2.0, elastic_sigma=6.0)
        assert set(np.unique(moved_mask)) <= {0, 1}, "the mask keeps class indices"
        assert np.mean((moved_image[..., 0] > 0.5) == (moved_mask == 1)) > 0.97


def test_quantized_scores_are_exact_levels():
    levels, values = quantize_scores(np.array([0.0, 0.5, 1.0, 1.2]))
    assert levels.dtype == np.uint8 and levels.tolist() == [0, 128, 255, 255] and values[1] == pytest.approx(128 / 255)


@pytest.mark.parametrize("attention", [False, True])
def test_unet_shapes_2d_and_3d_and_attention_layers(attention):
    model = build_unet((32, 32, 1), 3, filters=(4, 8, 16), attention=attention)
    assert model.output.shape[1:] == (32, 32, 3)
    names = {layer.name for layer in model.layers}
    assert (set(attention_layer_names((4, 8, 16))) <= names) == attention
    volume = build_unet((8, 16, 16, 1), 2, filters=(4, 8), attention=attention)
    assert volume.output.shape[1:] == (8, 16, 16, 2)
    with pytest.raises(ValueError, match="divisible by 4"):
        build_unet((30, 32, 1), 2, filters=(4, 8, 16))


def test_a_unet_learns_a_disc_on_a_toy_set():
    import keras

    from common.reproducibility import set_seed

    set_seed(0)
    rng = np.random.default_rng(0)
    rows, columns = np.mgrid[0:32, 0:32]
    masks = []
    for _ in range(48):
        centre, radius = rng.uniform(10, 22, 2), rng.uniform(5, 9)
        masks.append(((rows - centre[0]) ** 2 + (columns - centre[1]) ** 2 <= radius ** 2).astype(int))
    masks = np.stack(masks)
    images = (masks * 0.6 + rng.normal(0.2, 0.1, masks.shape)).astype("float32")[..., None]
    model = build_unet((32, 32, 1), 2, filters=(8, 16))
    model.compile(keras.optimizers.Adam(3e-3), DiceCrossEntropy())
    model.fit(images, np.eye(2, dtype="float32")[masks], epochs=15, batch_size=8, verbose=0)
    scores = model.predict(images[:8], verbose=0)
    assert segmentation_scores(masks[:8], scores)["per_class"]["1"]["dice"] > 0.9


def _write_pairs(root, names, mask_values=(0, 255), mask_size=16):
    from PIL import Image

    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for name in names:
        Image.fromarray(np.full((16, 16), 100, np.uint8)).save(root / "images" / f"{name}.png")
        mask = np.full((mask_size, mask_size), mask_values[0], np.uint8)
        mask[4:8] = mask_values[1]
        Image.fromarray(mask).save(root / "masks" / f"{name}.png")


def test_folder_loader_pairs_by_name_in_natural_order(tmp_path):
    _write_pairs(tmp_path, ["10", "2", "1"])
    data = load_segmentation_folder(tmp_path)
    assert data.names == ["1", "2", "10"] and data.images.shape == (3, 16, 16) and data.num_classes == 2
    assert set(np.unique(data.masks)) == {0, 1}, "0 / 255 masks become class indices"


@pytest.mark.parametrize("problem, message", [
    ("lonely", "has no mask"), ("size", "a mask must have its image's size"), ("values", "classes 1..99 never occur"),
    ("layout", "neither images/"),
])
def test_folder_loader_names_the_file_and_the_fix(tmp_path, problem, message):
    if problem == "lonely":
        _write_pairs(tmp_path, ["1", "2"])
        (tmp_path / "masks" / "2.png").unlink()
    elif problem == "size":
        _write_pairs(tmp_path, ["1"], mask_size=12)
    elif problem == "values":
        _write_pairs(tmp_path, ["1"], mask_values=(0, 100))
    else:
        (tmp_path / "pictures").mkdir()
    with pytest.raises(DataError, match=message):
        load_segmentation_folder(tmp_path)


def test_a_decathlon_folder_takes_its_class_names_from_dataset_json(tmp_path):
    from common.datasets.samples import ensure_samples
    from common.datasets.synthetic_segmentation import DECATHLON_FOLDER, DECATHLON_TASK

    folder = shutil.copytree(ensure_samples("decathlon") / DECATHLON_FOLDER / DECATHLON_TASK, tmp_path / "task")
    assert load_segmentation_folder(folder).class_names == ["background", "anterior", "posterior"]
    (folder / "dataset.json").write_text('{"labels": {"0": "background", "1": "anterior"}}')
    with pytest.raises(DataError, match="dataset.json names 2 classes, but the masks hold 3"):
        load_segmentation_folder(folder)
    (folder / "dataset.json").write_text("{not json")
    with pytest.raises(DataError, match="dataset.json cannot be read"):
        load_segmentation_folder(folder)
    (folder / "dataset.json").unlink()
    assert load_segmentation_folder(folder).class_names is None


@pytest.fixture(scope="module")
def smoke_run(notebook_run):
    """This assignment's --smoke run, made by its notebook (shared with the notebook and grading tests)."""
    return notebook_run(6).folder


def test_smoke_run_scores_both_models_on_whole_test_slices(smoke_run):
    metrics = json.loads((smoke_run / "metrics.json").read_text())
    rows = {row["model"]: row for row in metrics["results"]}
    assert set(rows) == {"unet", "attention_unet"} and metrics["best_on_validation"] in rows
    for row in rows.values():
        assert row["task"] == "segmentation" and row["adapted_rand_error"] is not None
        assert 0.0 <= row["pixel_error"] <= 1.0 and row["num_pixels"] == 2 * 128 * 128
    with np.load(smoke_run / "predictions" / "unet_test.npz") as saved:
        assert saved["y_score"].dtype == np.uint8 and saved["y_score"].shape == (2, 128, 128, 2)
    for figure in ("test_unet.png", "test_attention_unet.png", "attention_maps.png", "learning_curves.png"):
        assert (smoke_run / "figures" / figure).stat().st_size > 5000
    for model in rows:  # TensorBoard logs of every training, in its model folder
        assert list((smoke_run / model / "tensorboard" / "validation").glob("events.out.tfevents*")), model


def test_grade_fails_an_edited_mask(smoke_run, tmp_path, table_problems):
    sheet = grade_run(smoke_run, assignment="a6_segmentation", allow_sample=True, data_dir=default_data_dir())
    assert sheet.verdict == PASS, [item for item in sheet.items if item.status == FAIL]
    markdown = sheet.to_markdown()
    assert table_problems(markdown) == []
    scores = re.search(r"the best on validation \(([^)]*)\)", markdown).group(1)
    # Validation pixel errors as they are, lower is better: the selection's internal sign flip stays inside.
    assert re.fullmatch(r"\w+ 0\.\d{4}, \w+ 0\.\d{4}", scores), scores
    edited = shutil.copytree(smoke_run, tmp_path / "edited")
    path = edited / "predictions" / "unet_test.npz"
    with np.load(path) as saved:
        arrays = dict(saved)
    arrays["y_score"][..., 1] = np.where(arrays["y_true"] == 1, 255, 0)  # the truth copied into the scores
    arrays["y_score"][..., 0] = 255 - arrays["y_score"][..., 1]
    np.savez(path, **arrays)
    failed = {item.name: item.evidence for item in grade_run(edited, assignment="a6_segmentation",
                                                             allow_sample=True).items if item.status == FAIL}
    assert "re-score unet on test" in failed, failed


def test_evaluate_scores_a_run_on_new_images_without_training(smoke_run):
    from common.datasets.samples import ensure_samples

    folder = ensure_samples("em_slices", count=3, size=96, seed=7) / "isbi2012_em"
    completed = _cli("evaluate", str(smoke_run), "--data", str(folder))
    assert completed.returncode == 0, completed.stderr[-2000:]
    evaluation = Path(completed.stdout.strip().splitlines()[-1])
    result = json.loads((evaluation / "metrics.json").read_text())
    assert {row["model"] for row in result["results"]} == {"unet", "attention_unet"}
    assert result["cases"] == ["0", "1", "2"] and (evaluation / "figures" / "cases_unet.png").is_file()
    bad = _cli("evaluate", str(smoke_run), "--data", str(smoke_run / "figures"))
    assert bad.returncode == 1 and "neither images/" in bad.stderr and "Traceback" not in bad.stderr


def test_the_3d_path_runs_end_to_end_on_decathlon_layout_volumes(tmp_path):
    """--data naming a folder in the Decathlon layout (the synthetic one) takes the 3D path."""
    from common.datasets.samples import ensure_samples
    from common.datasets.synthetic_segmentation import DECATHLON_FOLDER, DECATHLON_TASK

    folder = ensure_samples("decathlon") / DECATHLON_FOLDER / DECATHLON_TASK
    completed = _cli("--smoke", "--data", str(folder), "--verbose", "0", "--runs-dir", str(tmp_path))
    assert completed.returncode == 0, completed.stderr[-3000:]
    folder = Path(completed.stdout.strip().splitlines()[-1])
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["data"]["dimensions"] == 3 and metrics["data"]["class_names"] == ["background", "anterior",
                                                                                      "posterior"]
    assert all(row["adapted_rand_error"] is None for row in metrics["results"])


def test_the_decathlon_archive_is_unpacked_whole_or_not_at_all(tmp_path, monkeypatch):
    """The Task04 archive (its download and MD5 are the registry's) unpacks into a .partial folder first."""
    import tarfile

    from assignments.a6_segmentation import data as a6_data
    from common.datasets.samples import ensure_samples
    from common.datasets.synthetic_segmentation import DECATHLON_FOLDER, DECATHLON_TASK

    archive = tmp_path / "msd_hippocampus" / "Task04_Hippocampus.tar"
    archive.parent.mkdir()
    with tarfile.open(archive, "w") as bundle:
        bundle.add(ensure_samples("decathlon") / DECATHLON_FOLDER / DECATHLON_TASK, arcname=DECATHLON_TASK)
    monkeypatch.setattr(a6_data, "fetch_file", lambda info, name, data_dir, **_: archive)
    # What an unpacking killed half-way leaves behind is replaced, never read.
    (archive.parent / f"{DECATHLON_TASK}.partial" / DECATHLON_TASK / "imagesTr").mkdir(parents=True)
    task = a6_data._hippocampus_root(tmp_path)
    assert task == archive.parent / DECATHLON_TASK
    assert sorted(path.name for path in (task / "imagesTr").iterdir()) == sorted(
        path.name for path in (ensure_samples("decathlon") / DECATHLON_FOLDER / DECATHLON_TASK / "imagesTr").iterdir())
    assert sorted(path.name for path in archive.parent.iterdir()) == sorted([archive.name, DECATHLON_TASK])


def test_the_isbi_folder_gives_only_its_registered_slices(capsys):
    """Slices 24-29 written beside 0-23 (say, for a hidden test) neither move the split nor go unchecked."""
    from assignments.a6_segmentation.data import _registered_slices
    from common.datasets.segmentation_folders import SegmentationData

    names = [str(index) for index in range(30)]
    data = SegmentationData(np.zeros((30, 8, 8), np.float32), np.zeros((30, 8, 8), np.int64), names, "2d", 2,
                            Path("isbi2012_em"))
    kept = _registered_slices(data)
    assert kept.names == names[:24] and kept.images.shape == (24, 8, 8) and kept.masks.shape == (24, 8, 8)
    assert "6 other file(s) left out" in capsys.readouterr().out
    assert _registered_slices(kept) is kept


def test_palette_masks_keep_their_class_indices(tmp_path):
    from PIL import Image

    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    Image.fromarray(np.full((8, 8), 128, np.uint8)).save(tmp_path / "images" / "a.png")
    mask = Image.fromarray(np.repeat(np.arange(3, dtype=np.uint8), [3, 3, 2])[None, :].repeat(8, 0), mode="P")
    mask.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * 759)
    mask.save(tmp_path / "masks" / "a.png")
    data = load_segmentation_folder(tmp_path)
    assert data.num_classes == 3 and sorted(np.unique(data.masks)) == [0, 1, 2]


@pytest.mark.parametrize("flags, message", [
    ({"figure_cases": 0}, "figure-cases"), ({"dropout_rate": 1.0}, "dropout-rate"),
    ({"test_fraction": 0.6, "validation_fraction": 0.5}, "leave cases to train on"),
])
def test_config_refuses_values_that_would_fail_later(flags, message):
    from assignments.a6_segmentation.config import A6Config
    from common.config import ConfigError, make_config

    with pytest.raises(ConfigError, match=message):
        make_config(A6Config, flags)
