"""Predict new scans with a trained assignment-5 model.

    python -m assignments.a5_brain_tumor_cnn predict scan1.jpg scan2.dcm [--model PATH] [--json]

``--model`` is a ``.keras`` file, a model folder or a run folder (default: the newest finished run). Each
file gets its class and class probabilities; a file that cannot be read gets an error line and the others
are still predicted (the exit status is then 1).
"""

import argparse
import json
import sys
from pathlib import Path

from common.config import default_runs_dir
from common.run import METRICS_FILE

from .config import ASSIGNMENT

MODEL_INFO = "model_info.json"


def resolve_model(path=None, runs_dir=None):
    """The ``.keras`` file and its ``model_info.json`` for ``--model`` (see the module docstring)."""
    if path is None:
        parent = Path(runs_dir or default_runs_dir()) / ASSIGNMENT
        finished = sorted((p for p in parent.glob("*") if (p / METRICS_FILE).exists()),
                          key=lambda p: p.stat().st_mtime) if parent.is_dir() else []
        if not finished:
            raise FileNotFoundError(f"No finished run of {ASSIGNMENT} under {parent}. Train one first "
                                    f"(python -m assignments.{ASSIGNMENT}) or pass --model PATH.")
        path = finished[-1]
    path = Path(path)
    if path.is_dir() and (path / METRICS_FILE).exists():
        path = path / json.loads((path / METRICS_FILE).read_text())["chosen_model_file"]
    elif path.is_dir():
        path = path / "model.keras"
    info_path = path.parent / MODEL_INFO
    if not path.is_file() or not info_path.is_file():
        raise FileNotFoundError(f"{path} (with {MODEL_INFO} beside it) does not exist; pass a model file, a "
                                "model folder or a run folder of this assignment.")
    return path, json.loads(info_path.read_text())


def predict_files(model, info, paths):
    """One dict per file: {"file", "class", "probabilities": {name: p}} or {"file", "error"}."""
    import numpy as np

    from common.datasets.files import DataError
    from common.datasets.image_folders import read_image

    results, batch, batch_index = [], [], []
    for index, path in enumerate(paths):
        try:
            if not Path(path).is_file():
                raise DataError(f"{path} does not exist.")
            batch.append(read_image(path, info["image_size"], info["channels"]))
            batch_index.append(index)
            results.append({"file": str(path)})
        except DataError as error:
            results.append({"file": str(path), "error": str(error)})
    if batch:
        probabilities = model.predict(np.stack(batch).astype(np.float32), verbose=0)
        for index, row in zip(batch_index, probabilities):
            names = info["class_names"]
            results[index]["class"] = names[int(row.argmax())]
            results[index]["probabilities"] = {name: float(p) for name, p in zip(names, row)}
    return results


def main(argv):
    parser = argparse.ArgumentParser(prog=f"python -m assignments.{ASSIGNMENT} predict",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", help="image files (JPEG, PNG, BMP, TIFF) or DICOM (.dcm)")
    parser.add_argument("--model", help="a .keras file, model folder or run folder (default: newest run)")
    parser.add_argument("--runs-dir", help="where to look for runs (default: runs/ or $RUNS_DIR)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    options = parser.parse_args(argv)
    try:
        model_path, info = resolve_model(options.model, options.runs_dir)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from common.tf_setup import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras

    model = keras.models.load_model(model_path)
    results = predict_files(model, info, options.files)
    if options.json:
        print(json.dumps({"model": str(model_path), "predictions": results}, indent=2))
    else:
        names = info["class_names"]
        print(f"model: {model_path}  ({info.get('intended_use', '')})")
        print(f"{'file':<40} {'class':<12} " + " ".join(f"{name:>10}" for name in names))
        for result in results:
            if "error" in result:
                print(f"{result['file']:<40} ERROR: {result['error']}")
            else:
                print(f"{result['file']:<40} {result['class']:<12} "
                      + " ".join(f"{result['probabilities'][name]:>10.3f}" for name in names))
    return 1 if any("error" in result for result in results) else 0
