"""The grader's own evidence: fingerprints of the official test labels, and the re-run of a submitted model.

A submission's prediction files hold labels and scores the student wrote, so the grader never takes either
from them alone:

- **Labels.** Each rubric carries ``Fingerprint``s of the official test labels (SHA-256 of the labels as int64
  in file order, with their shape and length). A saved label array that does not hash to the fingerprint was
  not scored on the official test split.
- **Re-run.** Where the data is at hand, the grader loads each submitted model file, predicts the test split
  itself (inputs made by the instructor's copy of the assignment's loading and preprocessing, ``TestSet``),
  checks that the saved scores are what the model gives (within ``RERUN_TOLERANCE``), and scores its own
  predictions against its own labels.
- **Hidden test set.** The same prediction, on test cases only the instructor has.

Models are loaded with Keras' safe mode on (no Python code from the archive runs) and without compiling.
"""

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

# The largest difference |saved score - re-run score| accepted: float32 scores of the same model on the same
# inputs agree to about 1e-6 on one machine; between CPU and GPU kernels they differ by up to about 1e-4.
RERUN_TOLERANCE = 1e-3


class DataNotAtHand(Exception):
    """The data a re-run needs is not on this machine; the re-run is skipped (the message says where it looked)."""


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    """The official labels of one test split, without the labels: their SHA-256 and their number."""

    sha256: str
    length: int
    source: str = ""  # the official files, for the score sheet


def label_fingerprint(labels, source=""):
    """The ``Fingerprint`` of a label array: SHA-256 over its shape and its values as little-endian int64."""
    array = np.ascontiguousarray(np.asarray(labels), dtype="<i8")
    digest = hashlib.sha256(repr(array.shape).encode() + array.tobytes()).hexdigest()
    return Fingerprint(digest, len(array), source)


def check_fingerprint(labels, fingerprint):
    """(True, evidence) when ``labels`` are the labels ``fingerprint`` was made from, else (False, evidence)."""
    if len(labels) != fingerprint.length:
        return False, (f"{len(labels)} labels, but the official test split ({fingerprint.source}) has "
                       f"{fingerprint.length}")
    if label_fingerprint(labels).sha256 != fingerprint.sha256:
        return False, f"the labels are not the official test labels of {fingerprint.source} in their order"
    return True, f"the {fingerprint.length} official test labels of {fingerprint.source}"


@dataclasses.dataclass
class TestSet:
    """Inputs and true labels the grader predicts a submitted model on, made by the instructor's code."""

    inputs: np.ndarray  # what the model takes, (N, ...)
    y_true: np.ndarray  # (N,) class indices, or (N, L) 0/1 for multi-label, or (N, ...) masks
    task: str
    class_names: list
    source: str  # where the cases came from, for the score sheet
    # How the assignment predicts: predict(model, inputs) -> scores (default: one batched model.predict), and
    # how far the saved scores may lie from the grader's (scores stored as uint8 levels need one level more).
    predict: object = None
    tolerance: float = RERUN_TOLERANCE


def require_files(*paths, what="the test data"):
    """Raise ``DataNotAtHand`` unless every path exists (so a re-run never downloads)."""
    missing = [str(path) for path in paths if not Path(path).exists()]
    if missing:
        raise DataNotAtHand(f"{what} is not at hand ({missing[0]} is missing); set DATA_DIR or --data-dir to the "
                            "folder that holds it")


def run_config(config_cls, recorded, data_dir, public_copy=False):
    """The run's configuration rebuilt from its ``config.json`` (a dict) for the grader: the same settings, with
    the data read from ``data_dir`` and nothing resumed.

    Args:
        public_copy: the run's data set is public, so the grader reads its own copy from ``data_dir`` also where
            the run read a copy of its own (``--data PATH``).

    Raises:
        common.config.ConfigError: a key or value the assignment does not accept (a forged or damaged file).
    """
    from common.config import make_config, upgraded

    settings = {**upgraded(config_cls, recorded), "data_dir": str(data_dir), "resume": False}
    if public_copy:
        settings["data"] = ""
    return make_config(config_cls, settings)


class ModelRunner:
    """Loads submitted model files once each and predicts with them."""

    def __init__(self):
        self._models = {}

    def load(self, path):
        """The Keras model in ``path`` (loaded in safe mode, not compiled, computing in float32 whatever precision it
        trained in: ``common.precision.load_model``); raises on a file Keras cannot load."""
        path = Path(path)
        if path not in self._models:
            from common.precision import load_model

            self._models[path] = load_model(path, compile=False, safe_mode=True)
        return self._models[path]

    def predict(self, path, inputs, predict=None):
        """The model's scores for ``inputs``: float32 (N, C), or what ``predict(model, inputs)`` returns."""
        from common.train import predict_scores

        if predict is not None:
            return np.asarray(predict(self.load(path), inputs), dtype=np.float32)
        return predict_scores(self.load(path), inputs, batch_size=64)


def compare_scores(saved, rerun, tolerance=RERUN_TOLERANCE):
    """(True, evidence) when the saved scores are the re-run's within ``tolerance``, else (False, evidence)."""
    saved, rerun = np.asarray(saved, dtype=np.float64), np.asarray(rerun, dtype=np.float64)
    if saved.shape != rerun.shape:
        return False, f"saved scores have shape {saved.shape}, the model gives {rerun.shape}"
    difference = float(np.max(np.abs(saved - rerun))) if saved.size else 0.0
    if not np.isfinite(difference) or difference > tolerance:
        return False, (f"the model file does not give the saved scores (largest difference {difference:.3g}, "
                       f"tolerance {tolerance:.2g})")
    return True, f"the model gives the saved scores (largest difference {difference:.1g} <= {tolerance:.2g})"
