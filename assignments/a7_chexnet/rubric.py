"""What a graded run of assignment 7 must contain and achieve (``make grade RUN=runs/a7_chexnet/<run>``).

The floors are MedMNIST v2's ResNet-18 on PneumoniaMNIST at 28 px (test AUC 0.944, Yang et al. 2023), the row
the 28-px data here compares with; the balanced accuracy floor is its accuracy, 0.854, which on this test split
(62.5% pneumonia) a model that thresholds well reaches in balanced accuracy too. The rules check that each
threshold and the model were chosen on validation, and that the network is DenseNet-121.
"""

from pathlib import Path

import numpy as np

from assignments.fingerprints import PNEUMONIAMNIST_TEST
from common.datasets.medmnist_info import MEDMNIST
from common.evaluate import youden_threshold
from common.grading import FAIL, PASS, Floor, Rubric, chosen_on_validation, rule_test_split_used_once
from common.rerun import TestSet, require_files, run_config
from common.results import load_predictions, validation_prediction_file

from .config import A7Config
from .data import CLASS_NAMES, load_chest_xray_data

# keras.applications.DenseNet121(include_top=False) has 7,037,504 parameters; one sigmoid adds 1,025.
DENSENET121_PARAMETERS = 7_038_529


def _test_rows(evidence):
    return [row for row in evidence.metrics["results"] if row.get("split") == "test"]


def model_chosen_on_validation(evidence):
    """Model chosen on validation AUC, not on test."""
    candidates = {row["model"]: row.get("val_auc") for row in _test_rows(evidence)}
    return chosen_on_validation(candidates, evidence.metrics.get("chosen_model"), "models")


def thresholds_chosen_on_validation(evidence):
    """Each model's threshold is Youden's J on its saved validation predictions."""
    found = []
    for row in _test_rows(evidence):
        path = validation_prediction_file(evidence.path, row["model"])
        if not path.is_file():
            return FAIL, f"predictions/validation/{path.name} is missing: the threshold cannot be checked"
        y_true, y_score, _ = load_predictions(path)
        expected = youden_threshold(y_true, y_score[:, -1])
        if not isinstance(row.get("threshold"), int | float) or abs(row["threshold"] - expected) > 1e-4:
            return FAIL, (f"{row['model']}'s threshold {row.get('threshold')!r} is not Youden's J on its validation "
                          f"predictions ({expected:.4f})")
        found.append(f"{row['model']} {expected:.3f}")
    return PASS, ", ".join(found) + " (Youden's J on validation)"


def chexnet_is_densenet121(evidence):
    """CheXNet's row is a DenseNet-121 with one sigmoid."""
    row = next((row for row in _test_rows(evidence) if row["model"] == "densenet121"), None)
    if row is None:
        return FAIL, "no densenet121 row"
    if row.get("parameters") != DENSENET121_PARAMETERS:
        return FAIL, (f"densenet121 has {row.get('parameters')} parameters, not DenseNet-121's "
                      f"{DENSENET121_PARAMETERS:,}")
    return PASS, f"{DENSENET121_PARAMETERS:,} parameters; weights: {row.get('weights', 'n/a')}"


def test_sets(recorded, metrics, data_dir):
    """The test split, read by the instructor's loader from the file or folder the run names (a --npz file or
    Kermany folder at its recorded path; else PneumoniaMNIST in data_dir)."""
    config = run_config(A7Config, recorded, data_dir)
    if config.npz or config.data:
        require_files(Path(config.npz or config.data), what="the run's chest X-rays")
    elif config.dataset != "sample":
        name = MEDMNIST["pneumoniamnist"].file_name(config.size)
        require_files(Path(data_dir) / "medmnist" / name, what="PneumoniaMNIST")
    data = load_chest_xray_data(config)
    return {(data.dataset, "test"): TestSet(data.x_test, data.y_test, "binary", CLASS_NAMES, data.source)}


def hidden_test(recorded, metrics, path):
    """The instructor's hidden X-rays: a PneumoniaMNIST-format .npz holding test_images and test_labels (other
    splits may be there too) at the run's size."""
    from common.datasets.medmnist import load_medmnist_file, to_float_images

    images, labels = load_medmnist_file(path, "pneumoniamnist", splits=("test",)).splits["test"]
    return {None: TestSet(to_float_images(images), np.asarray(labels), "binary", CLASS_NAMES,
                          f"{len(labels)} hidden X-rays in {path}")}


RUBRIC = Rubric(
    title="CheXNet: DenseNet-121 for pneumonia on chest X-rays",
    tasks=("binary",),
    artefacts=("report.md", "config.json", "metrics.json", "predictions/densenet121_test.npz",
               "predictions/validation/densenet121.npz", "densenet121/best.keras", "figures/roc.png",
               "figures/heatmaps_densenet121.png", "figures/learning_curves.png"),
    floors=(Floor("densenet121", "auc", 0.944, why="MedMNIST v2 ResNet-18 at 28 px: test AUC 0.944"),
            Floor("densenet121", "balanced_accuracy", 0.854, why="MedMNIST v2 ResNet-18 at 28 px: accuracy 0.854")),
    rules=(model_chosen_on_validation, thresholds_chosen_on_validation, chexnet_is_densenet121,
           rule_test_split_used_once),
    fingerprints={("pneumoniamnist", "test"): PNEUMONIAMNIST_TEST},
    test_sets=test_sets,
    hidden_test=hidden_test,
)
