"""Run folders: everything one run produces, in one place an instructor can grade from.

Every run writes ``runs/<assignment>/<timestamp>/``::

    config.json        the resolved configuration (re-run it with --config config.json)
    <model>/           per-model checkpoint and history (see common.train)
    predictions/       saved test-split labels and scores per model, so a grader can re-score them
    figures/           learning curves, confusion matrices, ROC curves, example images
    metrics.json       written last: {"results": [{model, dataset, split, accuracy, auc, ...}], ...}
    report.md          a short report with the tables and figures

Folders are never reused: a second run in the same second gets a ``-2`` suffix. A run folder without
``metrics.json`` is unfinished and is what ``--resume`` continues.
"""

import datetime
import json
import math
import os
from pathlib import Path

import numpy as np

METRICS_FILE = "metrics.json"


class RunError(RuntimeError):
    """A run folder that cannot be created or resumed; the message says what to do."""


def to_json_ready(value):
    """A copy of ``value`` that ``json`` can write: NumPy types to Python ones, NaN to ``None`` (null)."""
    if isinstance(value, dict):
        return {str(key): to_json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_ready(item) for item in value]
    if isinstance(value, np.ndarray):
        return to_json_ready(value.tolist())
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path, data):
    """Write ``data`` as indented JSON, atomically (a temporary file renamed into place)."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(to_json_ready(data), indent=2, allow_nan=False) + "\n")
    os.replace(temporary, path)


class RunFolder:
    """The folder of one run of one assignment."""

    def __init__(self, path, assignment):
        self.path = Path(path)
        self.assignment = assignment

    @classmethod
    def create(cls, runs_dir, assignment, now=None):
        """Make a new, empty run folder ``runs_dir/assignment/<YYYYmmdd-HHMMSS>[-n]``."""
        parent = Path(runs_dir) / assignment
        parent.mkdir(parents=True, exist_ok=True)
        stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
        for attempt in range(1, 1000):
            path = parent / (stamp if attempt == 1 else f"{stamp}-{attempt}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return cls(path, assignment)
        raise RunError(f"Could not create a new run folder under {parent}.")

    @classmethod
    def latest_unfinished(cls, runs_dir, assignment):
        """The most recent run folder of ``assignment`` without ``metrics.json``, or ``None``."""
        parent = Path(runs_dir) / assignment
        if not parent.is_dir():
            return None
        candidates = sorted((p for p in parent.iterdir() if p.is_dir() and not (p / METRICS_FILE).exists()),
                            key=lambda p: p.stat().st_mtime)
        return cls(candidates[-1], assignment) if candidates else None

    @classmethod
    def open(cls, runs_dir, assignment, resume=False):
        """A new run folder, or with ``resume`` the latest unfinished one (``RunError`` if there is none)."""
        if resume:
            run = cls.latest_unfinished(runs_dir, assignment)
            if run is None:
                raise RunError(f"--resume found no unfinished run of {assignment} under "
                               f"{Path(runs_dir) / assignment} (a finished run has a {METRICS_FILE}). "
                               "Run again without --resume to start a new run.")
            return run
        return cls.create(runs_dir, assignment)

    @property
    def figures(self):
        folder = self.path / "figures"
        folder.mkdir(exist_ok=True)
        return folder

    def model_folder(self, name):
        return self.path / name

    def start(self, config):
        """Write the run's configuration; when resuming, first check that it matches the saved one.

        Resuming with different settings would silently mix two experiments in one folder, so it is refused.
        """
        saved_path = self.path / "config.json"
        if config.resume and saved_path.exists():
            saved = json.loads(saved_path.read_text())
            current = to_json_ready(config.to_dict())
            changed = sorted(key for key, value in current.items()
                             if key not in ("resume", "verbose", "runs_dir") and saved.get(key) != value)
            if changed:
                raise RunError(f"{self.path} was started with different settings ({', '.join(changed)}). Resume "
                               f"it with its own settings: --config {saved_path} --resume")
        self.write_config(config)

    def write_config(self, config):
        write_json(self.path / "config.json", config.to_dict() if hasattr(config, "to_dict") else config)

    def save_predictions(self, model_name, split, y_true, y_score, class_names=()):
        """Save labels and scores of one model on one split, for re-scoring by a grader."""
        folder = self.path / "predictions"
        folder.mkdir(exist_ok=True)
        path = folder / f"{model_name}_{split}.npz"
        np.savez_compressed(path, y_true=np.asarray(y_true), y_score=np.asarray(y_score, dtype=np.float32),
                            class_names=np.asarray(list(class_names), dtype=str))
        return path

    def write_metrics(self, results, **extra):
        """Write ``metrics.json``; ``results`` is a list of dicts with model, dataset, split, accuracy, auc."""
        required = ("model", "dataset", "split", "accuracy", "auc")
        for row in results:
            missing = [key for key in required if key not in row]
            if missing:
                raise ValueError(f"result row {row.get('model', row)} lacks {', '.join(missing)}.")
        data = {"assignment": self.assignment, "run": self.path.name,
                "finished": datetime.datetime.now().isoformat(timespec="seconds"), **extra, "results": results}
        write_json(self.path / METRICS_FILE, data)

    def write_report(self, text):
        (self.path / "report.md").write_text(text)


def markdown_table(rows, columns, formats=None):
    """A Markdown table of ``rows`` (dicts) with ``columns`` as {key: header}; ``formats`` maps key -> spec."""
    formats = formats or {}
    keys = list(columns)
    lines = ["| " + " | ".join(columns[k] for k in keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = []
        for key in keys:
            value = row.get(key, "")
            if value is None:
                cells.append("n/a")
            elif key in formats and isinstance(value, int | float | np.number):
                cells.append(format(value, formats[key]))
            else:
                cells.append(str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sample_data_banner(manifest):
    """The warning that opens every report made from sample data (empty for real data)."""
    if not manifest:
        return ""
    return (f"> **SAMPLE DATA, NOT RESULTS.** This run used {manifest['title']}. {manifest['description']}\n\n")
