"""What a graded run of assignment 5 must contain and achieve (``make grade RUN=runs/a5_brain_tumor_cnn/<run>``).

The floor is the course's reference CNN on the Kaggle Brain Tumor MRI test set (94% accuracy, from the course
handout). The rules check that the model was chosen on validation, that it was saved with the metadata
``predict`` needs, and that the de-duplicated test set was scored too (the official split leaks copies of
training images into the test set).
"""

import json
from pathlib import Path

from assignments.fingerprints import BRAIN_TUMOR_MRI_TEST
from common.datasets.image_folders import load_image_folder
from common.grading import FAIL, PASS, Floor, Rubric, chosen_on_validation, rule_test_split_used_once
from common.rerun import TestSet, require_files, run_config

from .config import A5Config
from .data import INFO, load_brain_tumor_data

CLASS_NAMES = ["glioma", "meningioma", "notumor", "pituitary"]  # the Kaggle set's class folders, in label order


def model_chosen_on_validation(evidence):
    """Model chosen on validation accuracy, not on test."""
    candidates = {row["model"]: row["val_accuracy"] for row in evidence.metrics["results"] if row["split"] == "test"}
    return chosen_on_validation(candidates, evidence.metrics["chosen_model"], "models")


def saved_model_usable(evidence):
    """Chosen model saved with its class names and intended use."""
    model_file = evidence.path / evidence.metrics["chosen_model_file"]
    info_file = model_file.parent / "model_info.json"
    if not model_file.is_file() or not info_file.is_file():
        return FAIL, f"{model_file.name} or {info_file.name} is missing in {model_file.parent.name}/"
    info = json.loads(info_file.read_text())
    if list(info.get("class_names", [])) != CLASS_NAMES or not info.get(
            "intended_use"):
        return FAIL, f"{info_file.name} lacks the four class names or the intended use"
    return PASS, f"{model_file.parent.name}/{model_file.name} with {info_file.name} ({info['intended_use'][:40]}...)"


def deduplicated_test_scored(evidence):
    """De-duplicated test set scored for every model."""
    models = {row["model"] for row in evidence.metrics["results"]}
    scored = {model for model, split in evidence.rescored if split == "test-deduplicated"}
    if models - scored:
        return FAIL, f"no re-scorable test-deduplicated result for {', '.join(sorted(models - scored))}"
    return PASS, ", ".join(f"{model}: {evidence.rescored[(model, 'test-deduplicated')]['num_samples']} images"
                           for model in sorted(models))


def test_sets(recorded, metrics, data_dir):
    """The Testing folder (whole and de-duplicated), read by the instructor's loader at the run's image size."""
    config = run_config(A5Config, recorded, data_dir, public_copy=True)
    if config.dataset != "sample":
        root = Path(data_dir) / INFO.folder
        require_files(root / "Training", root / "Testing", what=INFO.title)
    data = load_brain_tumor_data(config)
    keep = data.duplicates.test_keep
    source = f"{data.root / 'Testing'}"
    return {(data.dataset, "test"): TestSet(data.x_test, data.y_test, "multi-class", data.class_names, source),
            (data.dataset, "test-deduplicated"): TestSet(data.x_test[keep], data.y_test[keep], "multi-class",
                                                         data.class_names, f"{source}, de-duplicated")}


def hidden_test(recorded, metrics, path):
    """The instructor's hidden images, laid out like Testing/ (root/<class>/*.jpg), read at the run's size."""
    config = run_config(A5Config, recorded, ".")
    folder = load_image_folder(Path(path), config.image_size, config.channels, class_names=CLASS_NAMES)
    return {None: TestSet(folder.images.astype("float32"), folder.labels, "multi-class", CLASS_NAMES,
                          f"{len(folder.labels)} hidden images in {path}")}


RUBRIC = Rubric(
    title="Kaggle brain-tumour MRI CNN",
    tasks=("multi-class",),
    artefacts=("report.md", "config.json", "metrics.json", "predictions/cnn_test.npz", "cnn/model.keras",
               "cnn/model_info.json", "figures/learning_curves.png", "figures/confusion_cnn.png",
               "figures/gradcam_*.png", "figures/misclassified_*.png"),
    floors=(Floor("cnn", "accuracy", 0.94, why="the course's reference CNN: 94%"),),
    rules=(model_chosen_on_validation, saved_model_usable, deduplicated_test_scored, rule_test_split_used_once),
    fingerprints={("brain_tumor_mri", "test"): BRAIN_TUMOR_MRI_TEST},
    test_sets=test_sets,
    hidden_test=hidden_test,
)
