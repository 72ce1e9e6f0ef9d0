"""What a graded run of assignment 3 must contain and achieve (``make grade RUN=runs/a3_mri_fusion/<run>``).

The course's own MRI volumes are not public, so the floor is set on the real stand-in the suite measures:
AdrenalMNIST3D, where the best approach must reach a test AUC of 0.85 (the published MedMNIST v2 3D ResNets
reach 0.83). The rules check that all four approaches ran on the same test volumes, and that the best was
named on validation, not on test.
"""

from pathlib import Path

from assignments.fingerprints import MEDMNIST_TEST
from common.datasets.registry import REGISTRY
from common.grading import FAIL, PASS, SKIP, Rubric, chosen_on_validation, rule_test_split_used_once
from common.rerun import TestSet, require_files, run_config

from .config import MEDMNIST_STAND_INS, A3Config
from .data import load_volumes, read_new_volumes

APPROACHES = ("single_slice", "late_fusion", "early_fusion", "resnet3d")
AUC_FLOOR = 0.85
OFFICIAL_TEST_SIZES = {"adrenalmnist3d": 298, "adrenalmnist3d_64": 298, "nodulemnist3d": 310, "nodulemnist3d_64": 310}


def all_approaches_compared(evidence):
    """All four approaches trained and scored on test."""
    reported = {row["model"] for row in evidence.metrics["results"]}
    missing = [name for name in APPROACHES if name not in reported]
    if missing:
        return FAIL, f"not in the results: {', '.join(missing)}"
    return PASS, ", ".join(APPROACHES)


def best_named_on_validation(evidence):
    """Best approach named on validation AUC, not on test."""
    candidates = {row["model"]: row["val_auc"] for row in evidence.metrics["results"]
                  if isinstance(row.get("val_auc"), int | float)}
    return chosen_on_validation(candidates, evidence.metrics["best_on_validation"], "approaches")


def best_reaches_auc_floor(evidence):
    """Best approach reaches test AUC 0.85 on a real MedMNIST 3D set."""
    if evidence.metrics["data"].get("sample"):
        return SKIP, "sample data: the floor applies to AdrenalMNIST3D"
    best = evidence.metrics["best_on_validation"]
    scored = evidence.rescored.get((best, "test"))
    if scored is None:
        return FAIL, f"no re-scorable test result for {best}"
    auc = scored["auc"] or 0.0
    return (PASS if auc >= AUC_FLOOR else FAIL), f"{best}: re-scored test AUC {auc:.4f} (floor {AUC_FLOOR})"


def official_test_split(evidence):
    """Whole official test split scored (MedMNIST data)."""
    dataset = evidence.metrics["results"][0]["dataset"]
    expected = OFFICIAL_TEST_SIZES.get(dataset)
    if expected is None:
        return SKIP, f"{dataset} has no official split; the run made a stratified one"
    sizes = {scored["num_samples"] for (_, split), scored in evidence.rescored.items() if split == "test"}
    return (PASS if sizes == {expected} else FAIL), f"{sorted(sizes)} test volumes (official: {expected})"


def test_sets(recorded, metrics, data_dir):
    """The run's test volumes, read and preprocessed by the instructor's code: the official MedMNIST test split,
    or the split re-derived from the run's data folder and recorded seed."""
    config = run_config(A3Config, recorded, data_dir)
    if config.data:
        require_files(Path(config.data).expanduser(), what="the run's volumes")
    elif config.dataset in MEDMNIST_STAND_INS:
        info = REGISTRY[config.dataset]
        require_files(*(Path(data_dir) / info.folder / remote.name for remote in info.files), what=info.title)
    data = load_volumes(config)
    return {(data.dataset, "test"): TestSet(data.x_test, data.y_test, data.task, data.class_names,
                                            f"{data.title} test split")}


def hidden_test(recorded, metrics, path):
    """The instructor's hidden volumes (a class-folder tree, a CSV or an official-format .npz), preprocessed as
    the run's."""
    config = run_config(A3Config, recorded, ".")
    class_names = metrics["data"]["class_names"]
    volumes, labels = read_new_volumes(path, config, class_names)
    task = "binary" if len(class_names) == 2 else "multi-class"
    return {None: TestSet(volumes, labels, task, class_names, f"{len(labels)} hidden volumes in {path}")}


RUBRIC = Rubric(
    title="3D MRI tumour detection: single slice, late / early fusion, 3D ResNet",
    tasks=("binary", "multi-class"),
    artefacts=("report.md", "config.json", "metrics.json", "predictions/*_test.npz", "figures/planes_*.png",
               "figures/preprocessing.png", "figures/roc_test.png", "figures/gradcam.png",
               "figures/learning_curves.png", "*/best.keras"),
    rules=(all_approaches_compared, best_named_on_validation, best_reaches_auc_floor, official_test_split,
           rule_test_split_used_once),
    fingerprints={(dataset, "test"): fingerprint for dataset, fingerprint in MEDMNIST_TEST.items()},
    # The MedMNIST sets have an official split (fingerprinted where the suite has one); a user's own volumes do not.
    official_split=False,
    test_sets=test_sets,
    hidden_test=hidden_test,
)
