"""What a graded run of assignment 1 must contain and achieve (``make grade RUN=runs/a1_usps_fcnet/<run>``).

The floor is the course's reference for a compact fully-connected network on USPS (94.4% test accuracy, from
the course handout); the rules check that the network was chosen on the validation split and that its
cost (parameters, training time, inference time) was measured.
"""

from pathlib import Path

from assignments.fingerprints import USPS_TEST
from common.datasets.registry import REGISTRY
from common.datasets.usps import read_usps_h5, read_usps_text
from common.grading import FAIL, PASS, Floor, Rubric, chosen_on_validation, rule_test_split_used_once
from common.rerun import TestSet, require_files, run_config

from .config import A1Config
from .data import CLASS_NAMES, load_digits


def fc_net_chosen_on_validation(evidence):
    """FC network chosen on validation accuracy, not on test."""
    candidates = {trial["trial"]: trial["val_accuracy"] for trial in evidence.metrics["tuning"]}
    return chosen_on_validation(candidates, evidence.metrics["chosen_trial"], "tuning trials")


def cost_measured(evidence):
    """Parameters, training time and inference time reported for every model."""
    keys = ("parameters", "train_seconds", "latency_batch1_ms")
    missing = [f"{row['model']}: {key}" for row in evidence.metrics["results"] for key in keys
               if not isinstance(row.get(key), int | float)]
    if missing:
        return FAIL, f"missing or not a number: {', '.join(missing)}"
    return PASS, "; ".join(f"{row['model']}: {row['parameters']:,} parameters, {row['train_seconds']:.0f} s "
                           f"training, {row['latency_batch1_ms']:.2f} ms per image"
                           for row in evidence.metrics["results"])


def test_sets(recorded, metrics, data_dir):
    """The run's test split, read by the instructor's loader from ``data_dir`` (never downloaded)."""
    config = run_config(A1Config, recorded, data_dir, public_copy=True)
    if config.dataset != "sample":
        info = REGISTRY["usps" if config.data_format == "esl" else "usps_h5"]
        require_files(*(Path(data_dir) / info.folder / remote.name for remote in info.files), what="USPS")
    data = load_digits(config)
    return {(data.dataset, "test"): TestSet(data.x_test, data.y_test, "multi-class", CLASS_NAMES,
                                            f"{data.title} test split")}


def hidden_test(recorded, metrics, path):
    """Hidden test digits in USPS's own formats: an ESL text file (``zip.test.gz`` layout: label, then 256
    pixels in [-1, 1], per line) or an HDF5 file with ``test/data`` and ``test/target``."""
    path = Path(path)
    if path.suffix in (".h5", ".hdf5"):
        images, labels = read_usps_h5(path)["test"]
    else:
        images, labels = read_usps_text(path)
    return {None: TestSet(images, labels, "multi-class", CLASS_NAMES, f"{len(labels)} hidden digits in {path}")}


RUBRIC = Rubric(
    title="USPS digits with a compact fully-connected network",
    tasks=("multi-class",),
    artefacts=("report.md", "config.json", "metrics.json", "predictions/fc_net_test.npz",
               "figures/learning_curves.png", "figures/confusion_fc_net.png", "figures/misclassified_fc_net.png"),
    floors=(Floor("fc_net", "accuracy", 0.944, why="the course's reference FC network: 94.4%"),),
    rules=(fc_net_chosen_on_validation, rule_test_split_used_once, cost_measured),
    fingerprints={("usps", "test"): USPS_TEST},
    test_sets=test_sets,
    hidden_test=hidden_test,
)
