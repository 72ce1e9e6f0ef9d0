"""Labelled cases on disk: one sub-folder per class (``root/<class>/<case>``), or a CSV of ``path,label``.

The image folders of assignment 5, the SPECT cases of assignment 2 and the volumes of assignment 3 are all
listed here; each caller says what counts as a case (an image file, a NIfTI file, a DICOM series folder) and
how to name it in an error. Nothing is read: the callers load the cases.
"""

import csv
from pathlib import Path

import numpy as np

from common.datasets.files import DataError, list_names


def list_class_folders(root, is_case, what, class_names=None):
    """The cases under ``root/<class>/`` and their labels.

    Args:
        root: the folder holding one sub-folder per class.
        is_case: a function ``Path -> bool`` that says whether an entry of a class folder is a case.
        what: how to call the cases in an error message, e.g. "image files (.jpg, .png)".
        class_names: the class folders in label order; default: every sub-folder not starting with ".", sorted.

    Returns:
        (paths, labels int64 (N,), class_names): cases sorted by name within each class, classes in label order.

    Raises:
        DataError: ``root`` is missing, has no class folder, a named class folder is missing, or one is empty.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{root} does not exist or is not a folder. Expected one sub-folder per class with the "
                        "cases inside, e.g. root/<class>/<case>.")
    if class_names is None:
        class_names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not class_names:
            raise DataError(f"{root} has no class sub-folders. Expected root/<class>/<case>, one folder per class.")
    paths, labels = [], []
    for label, name in enumerate(class_names):
        folder = root / name
        if not folder.is_dir():
            raise DataError(f"{folder} is missing: expected one folder per class ({', '.join(class_names)}).")
        cases = sorted(path for path in folder.iterdir() if not path.name.startswith(".") and is_case(path))
        if not cases:
            raise DataError(f"The class folder {folder} holds no {what}. Add its cases or remove the folder.")
        paths.extend(cases)
        labels.extend([label] * len(cases))
    return paths, np.asarray(labels, dtype=np.int64), list(class_names)


def read_labels_csv(manifest, class_names=None):
    """The cases a CSV file lists, with a header that has the columns ``path`` and ``label`` (more are allowed).

    Paths are relative to the CSV's folder. Returns (paths, labels int64 (N,), class_names), classes in the
    order given, or the labels sorted.

    Raises:
        DataError: the file is unreadable, lacks the columns, lists a label outside ``class_names`` or a file that
            does not exist, or has no case of some class.
    """
    manifest = Path(manifest)
    try:
        with open(manifest, newline="") as handle:
            rows = list(csv.DictReader(handle))
            columns = rows[0].keys() if rows else []
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{manifest} cannot be read as a CSV file ({error}).") from None
    if not rows or not {"path", "label"} <= {column.strip() for column in columns if column}:
        raise DataError(f"{manifest} must have a header line with the columns path,label and one row per case "
                        f"(found columns: {', '.join(c for c in columns if c) or 'none'}). Paths are relative to "
                        "the CSV's folder.")
    rows = [{key.strip(): (value or "").strip() for key, value in row.items() if key} for row in rows]
    if class_names is None:
        class_names = sorted({row["label"] for row in rows})
    unknown = sorted({row["label"] for row in rows} - set(class_names))
    if unknown:
        raise DataError(f"{manifest} has labels {unknown} that are not in class_names {list(class_names)}.")
    paths = [manifest.parent / row["path"] for row in rows]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise DataError(f"{manifest} lists {len(missing)} file(s) that do not exist (paths are relative to "
                        f"{manifest.parent}): {list_names(missing, 10)}.")
    labels = [list(class_names).index(row["label"]) for row in rows]
    for label, name in enumerate(class_names):
        if label not in labels:
            raise DataError(f"{manifest} has no case of class {name!r}.")
    return paths, np.asarray(labels, dtype=np.int64), list(class_names)


def list_labelled_cases(source, is_case, what, class_names=None, min_classes=2):
    """The cases of ``source``: a class-folder tree (``list_class_folders``) or a ``.csv`` (``read_labels_csv``).

    Raises:
        DataError: as those two do, or fewer than ``min_classes`` classes (a classifier needs two).
    """
    source = Path(source).expanduser()
    if source.is_file() and source.suffix.lower() == ".csv":
        paths, labels, class_names = read_labels_csv(source, list(class_names) if class_names else None)
    elif source.is_dir():
        paths, labels, class_names = list_class_folders(source, is_case, what, list(class_names) if class_names
                                                        else None)
    else:
        raise DataError(f"{source} does not exist or is neither a folder nor a .csv file. Expected "
                        "root/<class>/<case> (one folder per class) or a CSV with the columns path,label.")
    if len(class_names) < min_classes:
        needed = {2: "two", 3: "three"}.get(min_classes, str(min_classes))
        raise DataError(f"{source} has {len(class_names)} class(es) ({', '.join(class_names) or 'none'}); a "
                        f"classifier needs at least {needed}: one sub-folder (or CSV label) per class.")
    return paths, labels, class_names
