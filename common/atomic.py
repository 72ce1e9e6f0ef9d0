"""Files written whole or not at all: each goes to a temporary name in its own folder and is renamed into place.

A run killed half-way (Ctrl-C, a lost machine) leaves either the old file or the new one, never half of one:
``os.replace`` within one folder is atomic on POSIX and Windows. Every file a run writes for a grader or for
``--resume`` (``config.json``, ``metrics.json``, ``done.json``, prediction files, reports) goes through here.
"""

import json
import math
import os
from pathlib import Path

import numpy as np

from common.faults import fault_point


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


def _temporary(path):
    path = Path(path)
    # The suffix stays last, so that writers that check it (Keras wants ".keras") accept the temporary name.
    return path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")


def replace_with(path, write):
    """Call ``write(temporary_path)``, then rename the temporary file to ``path``; returns ``path``.

    If ``write`` fails, the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    temporary = _temporary(path)
    try:
        write(temporary)
        fault_point(f"write:{path.name}")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    return replace_with(path, lambda temporary: Path(temporary).write_text(text))


def write_json(path, data):
    """Write ``data`` as indented JSON, atomically (NumPy values and NaN are converted first)."""
    return write_text(path, json.dumps(to_json_ready(data), indent=2, allow_nan=False) + "\n")


def save_npz(path, **arrays):
    """``np.savez_compressed(path, **arrays)``, atomically."""
    def write(temporary):
        with open(temporary, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    return replace_with(path, write)


def save_model(model, path):
    """``model.save(path)`` for a ``.keras`` file, atomically."""
    return replace_with(path, model.save)
