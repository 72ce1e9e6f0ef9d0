"""Predict new scans with a trained assignment-5 model.

    python -m assignments.a5_brain_tumor_cnn predict scan1.jpg scan2.dcm [--model PATH] [--json]
    python -m assignments.a5_brain_tumor_cnn predict scans/              every image file in the folder

``--model`` is a ``.keras`` file, a model folder or a run folder (default: the newest finished run). Each
file gets its class and class probabilities; a file that cannot be read gets an error line and the others
are still predicted (the exit status is then 1). A folder stands for the image files directly inside it.
"""

import argparse
import json
import sys
from pathlib import Path

from common.config import default_runs_dir
from common.datasets.image_folders import IMAGE_SUFFIXES, is_image_file
from common.run import METRICS_FILE

from .config import ASSIGNMENT

MODEL_INFO = "model_info.json"


class ModelError(ValueError):
    """A ``--model`` that cannot be used; the message says what to pass instead."""


def _read_json(path, what):
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"{path} cannot be read ({type(error).__name__}: {error}); {what}") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path} holds no JSON object; {what}")
    return data


def resolve_model(path=None, runs_dir=None):
    """The ``.keras`` file and its ``model_info.json`` for ``--model`` (see the module docstring).

    Raises:
        ModelError: nothing usable there; the message names the file and what to pass.
    """
    if path is None:
        parent = Path(runs_dir or default_runs_dir()) / ASSIGNMENT
        finished = sorted((p for p in parent.glob("*") if (p / METRICS_FILE).exists()),
                          key=lambda p: p.stat().st_mtime) if parent.is_dir() else []
        if not finished:
            raise ModelError(f"No finished run of {ASSIGNMENT} under {parent}. Train one first "
                             f"(python -m assignments.{ASSIGNMENT}) or pass --model PATH.")
        path = finished[-1]
    path = Path(path)
    if path.is_dir() and (path / METRICS_FILE).exists():
        chosen = _read_json(path / METRICS_FILE, "the run is damaged: pass its model folder instead, e.g. "
                                                 f"--model {path / 'cnn'}").get("chosen_model_file")
        if not isinstance(chosen, str):
            raise ModelError(f"{path / METRICS_FILE} names no chosen_model_file; pass the model folder instead, e.g. "
                             f"--model {path / 'cnn'}")
        path = path / chosen
    elif path.is_dir():
        path = path / "model.keras"
    info_path = path.parent / MODEL_INFO
    if not path.is_file() or not info_path.is_file():
        raise ModelError(f"{path} (with {MODEL_INFO} beside it) does not exist; pass a model file, a model folder "
                         "or a run folder of this assignment.")
    return path, _read_json(info_path, "train the model again, or pass another model")


def expand_folders(paths):
    """``paths`` with every folder replaced by the image files directly inside it (sorted)."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(str(child) for child in path.iterdir() if is_image_file(child))
        else:
            files.append(str(path))
    return files


def predict_files(model, info, paths):
    """One dict per file: {"file", "class", "probabilities": {name: p}} or {"file", "error"}."""
    import numpy as np

    from common.datasets.files import DataError
    from common.datasets.image_folders import read_image

    results, batch, batch_index = [], [], []
    # TODO: predict: read every file with read_image(path, info["image_size"], info["channels"]) (a missing
    #       file, a folder or an unreadable image gives {"file", "error"} with the DataError's message and the
    #       others go on), predict the readable ones in one batch (float32), and give each
    #       {"file", "class": the most probable of info["class_names"], "probabilities": {name: float}}.
    #       Keep the files' order.
    # BEGIN SOLUTION
    for index, path in enumerate(paths):
        try:
            if not Path(path).exists():
                raise DataError(f"{path} does not exist.")
            if not Path(path).is_file():
                raise DataError(f"{path} is not a file.")
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
    # END SOLUTION
    return results


def prediction_table(results, class_names):
    """``predict_files``'s results as the text table ``predict`` prints: per file its class and the probability of
    every class in ``class_names``, or its error."""
    width = max([40] + [len(result["file"]) for result in results])
    lines = [f"{'file':<{width}} {'class':<12} " + " ".join(f"{name:>10}" for name in class_names)]
    for result in results:
        if "error" in result:
            lines.append(f"{result['file']:<{width}} ERROR: {result['error']}")
        else:
            lines.append(f"{result['file']:<{width}} {result['class']:<12} "
                         + " ".join(f"{result['probabilities'][name]:>10.3f}" for name in class_names))
    return "\n".join(lines)


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
    except ModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    files = expand_folders(options.files)
    if not files:
        print(f"error: no image files ({', '.join(IMAGE_SUFFIXES)}) in {', '.join(options.files)}.", file=sys.stderr)
        return 2
    from common.precision import load_model

    try:
        model = load_model(model_path)
    except Exception as error:  # noqa: BLE001 (Keras raises many types for a damaged or foreign file)
        print(f"error: {model_path} cannot be loaded as a Keras model ({type(error).__name__}: "
              f"{str(error).splitlines()[0][:200]}); train the model again or pass another.", file=sys.stderr)
        return 2
    results = predict_files(model, info, files)
    if options.json:
        print(json.dumps({"model": str(model_path), "predictions": results}, indent=2))
    else:
        print(f"model: {model_path}  ({info.get('intended_use', '')})")
        print(prediction_table(results, info["class_names"]))
    return 1 if any("error" in result for result in results) else 0
