"""Score a trained run's models on images they never saw, without training.

    python -m assignments.a6_segmentation evaluate RUN --data PATH

``RUN`` is a finished run folder; ``PATH`` a folder in either layout the run takes (images/ + masks/ or labels/,
or imagesTr/ + labelsTr/). Every model of the run predicts the new images by overlap-tiling, as the run did its
test images; the scores, the per-case figures and a report go to ``RUN/evaluations/<timestamp>-<name>/``
(a new folder each time: earlier evaluations are kept).
"""

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

from common.atomic import to_json_ready, write_json, write_text
from common.config import ConfigError, make_config
from common.datasets.files import DataError
from common.precision import load_model
from common.report import markdown_table

from .config import A6Config

EVALUATION_COLUMNS = ("model", "pixel_error", "adapted_rand_error", "dice", "mean_iou", "parameters")


def evaluate_run(run_folder, data_path):
    """Evaluate every model of ``run_folder`` on the images at ``data_path``; returns the evaluation folder.

    Raises:
        DataError: the run or the data cannot be read (the message names the file and the fix).
    """
    from common.evaluate import evaluate_predictions

    from .data import read_new_cases
    from .report import RESULT_COLUMNS, RESULT_FORMATS, plot_cases, results_rows
    from .train import predict_cases, rand_errors

    run_folder, data_path = Path(run_folder), Path(data_path)
    try:
        recorded = json.loads((run_folder / "config.json").read_text())
        metrics = json.loads((run_folder / "metrics.json").read_text())
        config = make_config(A6Config, {**recorded, "resume": False})
    except FileNotFoundError as error:
        raise DataError(f"{run_folder} is not a finished run ({Path(error.filename).name} is missing); give a "
                        "run folder that holds config.json and metrics.json.") from None
    except (json.JSONDecodeError, ConfigError, UnicodeDecodeError) as error:
        raise DataError(f"{run_folder}: its config.json or metrics.json cannot be read ({error}).") from None
    try:
        class_names, dimensions = metrics["data"]["class_names"], metrics["data"]["dimensions"]
        results = [(row["model"], run_folder / row["model_file"], row.get("parameters")) for row in metrics["results"]]
    except (KeyError, TypeError) as error:
        raise DataError(f"{run_folder}/metrics.json is not an assignment-6 run's (no {error}).") from None
    x, y, names = read_new_cases(data_path, config, class_names)
    if x.ndim - 2 != dimensions:
        raise DataError(f"{data_path} holds {x.ndim - 2}D cases, but the run's models are {dimensions}D.")
    models = {}
    for name, model_file, _ in results:
        try:
            models[name] = load_model(model_file)
        except Exception as error:  # noqa: BLE001 (Keras raises many kinds for a damaged file)
            raise DataError(f"{model_file} cannot be loaded ({type(error).__name__}: {error}).") from None
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = run_folder / "evaluations" / f"{stamp}-{data_path.name}"
    folder.mkdir(parents=True, exist_ok=False)
    (folder / "figures").mkdir()
    rows, figures = [], []
    for name, _, parameters in results:
        model = models[name]
        scores = predict_cases(model, x, config)
        scored = evaluate_predictions(y, scores, "segmentation", class_names)
        rand = rand_errors(y, scores, x.ndim - 2)
        rows.append({"model": name, **scored, "adapted_rand_error": None if rand is None else float(np.mean(rand)),
                     "adapted_rand_error_per_case": rand, "parameters": parameters})
        path = plot_cases(x[:8], y[:8], scores[:8].argmax(axis=-1), names[:8], class_names,
                          folder / "figures" / f"cases_{name}.png", f"{name} on {data_path}")
        figures.append(f"- {name}: ![{name}](figures/{path.name})")
    write_json(folder / "metrics.json", to_json_ready({"run": str(run_folder), "data": str(data_path), "cases": names,
                                                        "results": rows}))
    # The training columns (time, epochs) belong to the run's own report, not to an evaluation.
    columns = {key: title for key, title in RESULT_COLUMNS.items() if key in EVALUATION_COLUMNS}
    table = markdown_table(results_rows(rows), columns, RESULT_FORMATS)
    write_text(folder / "report.md", f"# Evaluation of {run_folder.name} on {data_path}\n\n{len(x)} cases "
                                     f"({', '.join(names)}), predicted by overlap-tiling as in the run.\n\n{table}\n\n"
                                     + "\n".join(figures) + "\n")
    return folder


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m assignments.a6_segmentation evaluate",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a finished run folder")
    parser.add_argument("--data", required=True, help="a folder of images + masks (or the Decathlon layout)")
    options = parser.parse_args(argv)
    from common.tf_setup import quiet_native_logs

    try:
        with quiet_native_logs():
            folder = evaluate_run(options.run, options.data)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print((folder / "report.md").read_text())
    print(folder)
    return 0
