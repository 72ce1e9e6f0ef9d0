"""What a graded run of assignment 1 must contain and achieve (``make grade RUN=runs/a1_usps_fcnet/<run>``).

The floor is the course's reference for a compact fully-connected network on USPS (94.4% test accuracy, from
the course handout); the rules check that the network was chosen on the validation split and that its
cost (parameters, training time, inference time) was measured.
"""

from common.grading import FAIL, PASS, Floor, Rubric, chosen_on_validation, rule_test_split_used_once


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


RUBRIC = Rubric(
    title="USPS digits with a compact fully-connected network",
    tasks=("multi-class",),
    artefacts=("report.md", "config.json", "metrics.json", "predictions/fc_net_test.npz",
               "figures/learning_curves.png", "figures/confusion_fc_net.png", "figures/misclassified_fc_net.png"),
    floors=(Floor("fc_net", "accuracy", 0.944, why="the course's reference FC network: 94.4%"),),
    test_sizes={"test": 2007},
    rules=(fc_net_chosen_on_validation, rule_test_split_used_once, cost_measured),
)
