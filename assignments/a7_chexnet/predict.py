"""Score labelled chest X-ray folders with a trained assignment-7 run.

    python -m assignments.a7_chexnet predict chest_xray/test [--run RUN] [--model NAME] [--json]

``--run`` is a run folder (default: the newest finished run of this assignment); ``--model`` one of its models
(default: the one the run chose on validation). The images are read grey at the run's image size, as in training,
and called pneumonia at the model's threshold, the one chosen on the run's validation split.

Each folder, with ``NORMAL/`` and ``PNEUMONIA/`` inside (the Kermany et al. 2018 layout, e.g. its official test
split), is scored as the run scored its own test split: AUC with its 95% bootstrap interval, and sensitivity,
specificity and balanced accuracy at the threshold. (Classifying loose files is assignment 5's ``predict``, which
its students write.)
"""

import argparse
import json
import sys
from pathlib import Path

from common.config import default_runs_dir
from common.datasets.files import DataError
from common.datasets.kermany import CLASS_FOLDERS
from common.run import METRICS_FILE

from .config import ASSIGNMENT
from .data import CLASS_NAMES

BOOTSTRAP_SAMPLES = 1000


class RunError(ValueError):
    """A ``--run`` or ``--model`` that cannot be used; the message says what to pass instead."""


def resolve_run(run=None, model=None, runs_dir=None):
    """The model file, its name, its validation threshold and the image side of a finished run.

    Raises:
        RunError: no finished run there, or no such model in it; the message names the file and what to pass.
    """
    if run is None:
        parent = Path(runs_dir or default_runs_dir()) / ASSIGNMENT
        finished = sorted(path for path in parent.glob("*") if (path / METRICS_FILE).is_file())
        if not finished:
            raise RunError(f"no finished run of {ASSIGNMENT} under {parent}; train one first "
                           f"(python -m assignments.{ASSIGNMENT}) or pass --run RUN_FOLDER.")
        run = finished[-1]
    metrics_file = Path(run) / METRICS_FILE
    try:
        metrics = json.loads(metrics_file.read_text())
        rows = {row["model"]: row for row in metrics["results"] if row.get("split") == "test"}
        model = model or metrics["chosen_model"]
        size = int(metrics["data"]["image_size"])
    except FileNotFoundError:
        raise RunError(f"{metrics_file} does not exist: --run takes a finished run folder of {ASSIGNMENT} "
                       f"(runs/{ASSIGNMENT}/<timestamp>/).") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise RunError(f"{metrics_file} is not a finished run's record ({type(error).__name__}: {error}); train "
                       "again or pass another --run.") from None
    if model not in rows:
        raise RunError(f"{metrics_file} has no model {model!r}; it has {', '.join(sorted(rows))} (--model NAME).")
    row = rows[model]
    model_file = Path(run) / row["model_file"]
    if not model_file.is_file() or row.get("threshold") is None:
        raise RunError(f"{model_file} (and its threshold in {metrics_file}) is missing; train the run again.")
    return {"run": str(run), "model": model, "model_file": model_file, "threshold": float(row["threshold"]),
            "image_size": size}


def is_labelled_folder(path):
    """A folder laid out as the Kermany classes: ``NORMAL/`` and ``PNEUMONIA/`` inside."""
    return all((Path(path) / name).is_dir() for name in CLASS_FOLDERS)


def score_folder(model, chosen, folder):
    """Score a labelled folder: {"folder", "images", "normal", "pneumonia", "auc", "auc_low", "auc_high",
    "sensitivity", "specificity", "balanced_accuracy", "accuracy", "threshold"}."""
    from common.datasets.image_folders import load_image_folder
    from common.datasets.medmnist import to_float_images
    from common.evaluate import bootstrap_auc_interval, evaluate_predictions
    from common.train import predict_scores

    images = load_image_folder(folder, chosen["image_size"], 1, class_names=list(CLASS_FOLDERS))
    scores = predict_scores(model, to_float_images(images.images), 128).ravel()
    metrics = evaluate_predictions(images.labels, scores, "binary", CLASS_NAMES, threshold=chosen["threshold"])
    low, high = bootstrap_auc_interval(images.labels, scores, samples=BOOTSTRAP_SAMPLES)
    return {"folder": str(folder), "images": int(len(images.labels)), "normal": int((images.labels == 0).sum()),
            "pneumonia": int((images.labels == 1).sum()), "auc": metrics["auc"], "auc_low": low, "auc_high": high,
            "sensitivity": metrics["per_class"]["pneumonia"]["recall"],
            "specificity": metrics["per_class"]["normal"]["recall"],
            "balanced_accuracy": metrics["balanced_accuracy"], "accuracy": metrics["accuracy"],
            "threshold": chosen["threshold"], "skipped": len(images.skipped)}


def _folder_line(result):
    return (f"{result['folder']}: {result['images']} images ({result['normal']} normal / {result['pneumonia']} "
            f"pneumonia): AUC {result['auc']:.4f} (95% CI {result['auc_low']:.4f}-{result['auc_high']:.4f}), "
            f"sensitivity {result['sensitivity']:.3f}, specificity {result['specificity']:.3f}, balanced accuracy "
            f"{result['balanced_accuracy']:.4f}, accuracy {result['accuracy']:.4f}")


def main(argv):
    parser = argparse.ArgumentParser(prog=f"python -m assignments.{ASSIGNMENT} predict",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="FOLDER", help="labelled folders: NORMAL/ and PNEUMONIA/ inside")
    parser.add_argument("--run", help="a finished run folder (default: the newest under --runs-dir)")
    parser.add_argument("--model", help="a model of the run: densenet121 or compact_densenet (default: the chosen)")
    parser.add_argument("--runs-dir", help="where to look for runs (default: runs/ or $RUNS_DIR)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")
    options = parser.parse_args(argv)
    try:
        chosen = resolve_run(options.run, options.model, options.runs_dir)
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    unlabelled = [path for path in options.paths if not is_labelled_folder(path)]
    if unlabelled:
        print(f"error: {unlabelled[0]} is not a folder with NORMAL/ and PNEUMONIA/ inside; predict scores labelled "
              "folders (image files of each class).", file=sys.stderr)
        return 2
    from common.precision import load_model

    try:
        model = load_model(chosen["model_file"])
    except Exception as error:  # noqa: BLE001 (Keras raises many types for a damaged or foreign file)
        print(f"error: {chosen['model_file']} cannot be loaded as a Keras model ({type(error).__name__}); train the "
              "run again or pass another --run.", file=sys.stderr)
        return 2
    try:
        folders = [score_folder(model, chosen, folder) for folder in options.paths]
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    header = {key: str(value) for key, value in chosen.items()}
    if options.json:
        print(json.dumps({**header, "folders": folders}, indent=2))
    else:
        print(f"model: {chosen['model']} of {chosen['run']} (threshold {chosen['threshold']:.3f}, chosen on the run's "
              f"validation split; images read at {chosen['image_size']} px)")
        for folder in folders:
            print(_folder_line(folder))
    return 0
