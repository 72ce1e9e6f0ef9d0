"""What a graded run of assignment 6 must contain and achieve (``make grade RUN=runs/a6_segmentation/<run>``).

The floor: on the held-out ISBI 2012 slices, the model that was better on validation has a pixel error of at
most 0.09 (the U-Net paper reached 0.0611 on the challenge's own test volume, another split). The rules check
that both models were trained and scored on the same test images, that the better one was named on validation,
and that the attention maps were drawn. The grader re-scores the saved masks (stored as uint8 scores), and
re-runs every model by overlap-tiling where the data is at hand, so an edited mask fails its item.
"""

from pathlib import Path

from common.datasets.synthetic_segmentation import DECATHLON_TASK
from common.grading import FAIL, PASS, SKIP, Rubric, chosen_on_validation, rule_test_split_used_once
from common.rerun import RERUN_TOLERANCE, TestSet, require_files, run_config
from common.segmentation import SCORE_LEVELS, quantize_scores

from .config import MODELS, A6Config
from .data import HIPPOCAMPUS, ISBI, load_segmentation, read_new_cases
from .train import predict_cases

MAX_PIXEL_ERROR = 0.09
# Stored scores are uint8 levels: a re-run may land one level away where a score sits on a rounding boundary.
TOLERANCE = 1.0 / SCORE_LEVELS + RERUN_TOLERANCE


def both_models_compared(evidence):
    """U-Net and Attention U-Net trained and scored on the same test images."""
    reported = {row["model"] for row in evidence.metrics["results"]}
    missing = [name for name in MODELS if name not in reported]
    if missing:
        return FAIL, f"not in the results: {', '.join(missing)}"
    return PASS, ", ".join(f"{row['model']}: {row['parameters']:,} parameters, {row['train_seconds']:.0f} s"
                           for row in evidence.metrics["results"])


def better_named_on_validation(evidence):
    """Better model named on validation pixel error, not on test."""
    candidates = {row["model"]: row["val_pixel_error"] for row in evidence.metrics["results"]}
    return chosen_on_validation(candidates, evidence.metrics["best_on_validation"], "models (pixel error, lower is "
                                "better)", lower_is_better=True)


def better_model_reaches_floor(evidence):
    """Better model's test pixel error at most 0.09 on the ISBI 2012 slices."""
    data = evidence.metrics["data"]
    if data.get("sample"):
        return SKIP, "sample data: the floor applies to the ISBI 2012 slices"
    best = evidence.metrics["best_on_validation"]
    row = next(row for row in evidence.metrics["results"] if row["model"] == best)
    if row["dataset"] != "isbi2012_em":
        return SKIP, f"the floor is set on isbi2012_em; this run used {row['dataset']}"
    scored = evidence.rescored.get((best, "test"))
    if scored is None:
        return FAIL, f"no re-scorable test result for {best}"
    error = 1.0 - scored["accuracy"]
    return (PASS if error <= MAX_PIXEL_ERROR else FAIL), (f"{best}: re-scored pixel error {error:.4f} (at most "
                                                          f"{MAX_PIXEL_ERROR}; the U-Net paper: 0.0611)")


def _tiled(config):
    def predict(model, inputs):
        return quantize_scores(predict_cases(model, inputs, config))[1]

    return predict


def test_sets(recorded, metrics, data_dir):
    """The run's test images, read and split by the instructor's loader, predicted tile by tile as the run did."""
    config = run_config(A6Config, recorded, data_dir)
    if config.data:
        require_files(Path(config.data).expanduser(), what="the run's images and masks")
    elif config.dataset == "isbi2012_em":
        require_files(*(Path(data_dir) / ISBI.folder / remote.name for remote in ISBI.files), what=ISBI.title)
    elif config.dataset == "msd_hippocampus" and not (Path(data_dir) / HIPPOCAMPUS.folder / DECATHLON_TASK
                                                   / "imagesTr").is_dir():
        # The archive, not a download: a re-run uses only what is on this machine.
        require_files(Path(data_dir) / HIPPOCAMPUS.folder / HIPPOCAMPUS.files[0].name, what=HIPPOCAMPUS.title)
    data = load_segmentation(config)
    return {(data.dataset, "test"): TestSet(data.x_test, data.y_test, "segmentation", data.class_names,
                                            f"{data.title}, test {', '.join(data.names['test'])}",
                                            predict=_tiled(config), tolerance=TOLERANCE)}


def hidden_test(recorded, metrics, path):
    """The instructor's hidden images and masks: a folder in either layout, predicted as the run predicts."""
    config = run_config(A6Config, recorded, ".")
    class_names = metrics["data"]["class_names"]
    x, y, names = read_new_cases(path, config, class_names)
    return {None: TestSet(x, y, "segmentation", class_names, f"{len(names)} hidden cases in {path}",
                          predict=_tiled(config), tolerance=TOLERANCE)}


RUBRIC = Rubric(
    title="Segmentation with U-Net and Attention U-Net",
    tasks=("segmentation",),
    artefacts=("report.md", "config.json", "metrics.json", "predictions/unet_test.npz",
               "predictions/attention_unet_test.npz", "unet/best.keras", "attention_unet/best.keras",
               "figures/learning_curves.png", "figures/test_unet.png", "figures/test_attention_unet.png",
               "figures/attention_maps.png"),
    rules=(both_models_compared, better_named_on_validation, better_model_reaches_floor, rule_test_split_used_once),
    official_split=False,
    test_sets=test_sets,
    hidden_test=hidden_test,
)
