"""What a graded run of assignment 2 must contain and achieve (``make grade RUN=runs/a2_spect_staging/<run>``).

The course's DaTscan images are not public, so the one floor is set for the kind of set the course hands out: on
real binary data (healthy vs Parkinson's) the chosen model must reach a test AUC of 0.90. The rules check the
method: every model was cross-validated with both imbalance strategies, the choice followed the mean
cross-validated balanced accuracy (not the test set), the test cases were scored once, and the chosen model
clearly beats the majority-class baseline on the test cases (balanced accuracy at least 0.10 higher).
"""

from pathlib import Path

from common.grading import FAIL, PASS, SKIP, Rubric, chosen_on_validation, rule_test_split_used_once
from common.rerun import TestSet, require_files, run_config

from .config import A2Config
from .data import load_spect_data, normalize, read_new_cases
from .model import build_model  # noqa: F401 (registers the models' custom layers for loading)

MODELS = ("compact_vgg16", "resnet", "vit", "vgg16_transfer", "resnet50_transfer")
IMBALANCE_STRATEGIES = ("oversampling", "class_weight")
AUC_FLOOR = 0.90
# "Clearly beats": the majority-class baseline's balanced accuracy is 1 / (number of classes).
MARGIN_OVER_MAJORITY = 0.10


def _candidates(evidence):
    return evidence.metrics["cross_validation"]["candidates"]


def all_models_and_strategies_compared(evidence):
    """Every model cross-validated with both imbalance strategies, fold spread reported."""
    rows = _candidates(evidence)
    compared = {(row["model"], row["imbalance"]) for row in rows}
    # A transfer model is skipped when the ImageNet weights cannot be downloaded; the run records that.
    skipped = {name for name, entry in (evidence.metrics.get("transfer_weights") or {}).items()
               if isinstance(entry, dict) and entry.get("trained") is False}
    missing = [f"{model}-{strategy}" for model in MODELS for strategy in IMBALANCE_STRATEGIES
               if (model, strategy) not in compared and model not in skipped]
    if missing:
        return FAIL, f"not cross-validated: {', '.join(missing)}"
    folds = evidence.metrics["cross_validation"]["folds"]
    no_spread = [row["candidate"] for row in rows if row.get("balanced_accuracy_sd") is None]
    if folds < 2 or no_spread:
        return FAIL, f"{folds} fold(s); no spread across folds for {', '.join(no_spread) or 'any candidate'}"
    note = f" ({', '.join(sorted(skipped))} skipped: no ImageNet weights)" if skipped else ""
    return PASS, (f"{len(MODELS) - len(skipped)} models x {len(IMBALANCE_STRATEGIES)} strategies, {folds} folds, "
                  f"mean ± sd reported{note}")


def chosen_on_cross_validation(evidence):
    """Model and imbalance strategy chosen on mean cross-validated balanced accuracy, not on test."""
    candidates = {row["candidate"]: row["balanced_accuracy_mean"] for row in _candidates(evidence)
                  if isinstance(row.get("balanced_accuracy_mean"), int | float)}
    chosen = evidence.metrics["chosen_model"]
    if not any(row["model"] == chosen and row["split"] == "test" for row in evidence.metrics["results"]):
        return FAIL, f"the chosen candidate {chosen!r} has no test result"
    return chosen_on_validation(candidates, chosen, "(model, imbalance strategy) candidates")


def beats_majority_baseline(evidence):
    """Chosen model beats the majority-class baseline on test balanced accuracy (by 0.10)."""
    if (evidence.config or {}).get("smoke"):
        return SKIP, "--smoke run: two epochs of tiny networks are a plumbing check, not an experiment"
    chosen = evidence.metrics["chosen_model"]
    model, baseline = evidence.rescored.get((chosen, "test")), evidence.rescored.get(("majority_baseline", "test"))
    if model is None or baseline is None:
        return FAIL, f"no re-scorable test result for {chosen if model is None else 'majority_baseline'}"
    ok = model["balanced_accuracy"] >= baseline["balanced_accuracy"] + MARGIN_OVER_MAJORITY
    return (PASS if ok else FAIL), (f"{chosen}: re-scored balanced accuracy {model['balanced_accuracy']:.4f} vs "
                                    f"majority baseline {baseline['balanced_accuracy']:.4f} (margin "
                                    f"{MARGIN_OVER_MAJORITY})")


def reaches_auc_floor_on_real_binary_data(evidence):
    """Chosen model reaches test AUC 0.90 on real binary data (healthy vs Parkinson's)."""
    data = evidence.metrics["data"]
    if data.get("sample"):
        return SKIP, "sample data: the floor applies to the course's real DaTscan images"
    if len(data["class_names"]) != 2:
        return SKIP, f"{len(data['class_names'])} classes: the floor is set for the binary set"
    chosen = evidence.metrics["chosen_model"]
    scored = evidence.rescored.get((chosen, "test"))
    if scored is None:
        return FAIL, f"no re-scorable test result for {chosen}"
    auc = scored["auc"] or 0.0
    return (PASS if auc >= AUC_FLOOR else FAIL), f"{chosen}: re-scored test AUC {auc:.4f} (floor {AUC_FLOOR})"


def test_sets(recorded, metrics, data_dir):
    """The run's test cases, re-derived by the instructor's code from its data folder and recorded seed, cropped
    and normalised as the run chose (the "dataset" scale recomputed from the re-derived training cases)."""
    config = run_config(A2Config, recorded, data_dir)
    if config.data:
        require_files(Path(config.data).expanduser(), what="the run's SPECT images")
    data = load_spect_data(config)
    training = data.images[data.train_index]
    x_test, _ = normalize(data.images[data.test_index], metrics["normalization"], reference=training)
    return {(data.dataset, "test"): TestSet(x_test, data.labels[data.test_index], data.task, data.class_names,
                                            f"{data.title}, test split of seed {config.seed}")}


def hidden_test(recorded, metrics, path):
    """The instructor's hidden cases: a folder root/<class>/<case> or a CSV path,label (as ``--data`` takes),
    with the run's classes, brought to the run's image size, cropped and normalised with the run's scale."""
    config = run_config(A2Config, recorded, ".")
    data = metrics["data"]
    crops, labels = read_new_cases(Path(path), config, data["class_names"], data["image_shape"])
    images, _ = normalize(crops, metrics["normalization"], scale=metrics.get("normalization_scale"))
    task = "binary" if len(data["class_names"]) == 2 else "multi-class"
    return {None: TestSet(images, labels, task, data["class_names"], f"{len(labels)} hidden cases in {path}")}


RUBRIC = Rubric(
    title="SPECT Parkinson's-disease staging: five models x two imbalance strategies, cross-validated",
    # Two stages (healthy vs Parkinson's) are scored as binary (the AUC of the positive class), more as multi-class.
    tasks=("binary", "multi-class"),
    artefacts=("report.md", "config.json", "metrics.json", "predictions/*_test.npz",
               "predictions/majority_baseline_test.npz", "*/*.keras", "cross_validation/*_fold*.json",
               "figures/examples.png", "figures/cv_comparison.png", "figures/confusion_test.png",
               "figures/roc_test.png", "figures/learning_curves.png"),
    rules=(all_models_and_strategies_compared, chosen_on_cross_validation, beats_majority_baseline,
           reaches_auc_floor_on_real_binary_data, rule_test_split_used_once),
    official_split=False,
    test_sets=test_sets,
    hidden_test=hidden_test,
)
