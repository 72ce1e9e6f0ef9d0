"""What every data module needs: the one error type for bad data, file checksums, and the sample-data manifest.

``make demo``, ``--smoke`` runs and the tests read small sample files through the real loaders. Every sample
folder holds a ``SAMPLE_DATA.json`` manifest saying what the data is, what it stands in for and the MD5 of each
file; loaders check the files against it instead of the registry, and reports made from it say at the top that
they are not results on the real data set. This module imports nothing else of the suite but
``common.config``, so every data module can import it.
"""

import hashlib
import json
from pathlib import Path

from common.config import REPO_ROOT

SAMPLE_MANIFEST = "SAMPLE_DATA.json"
# The git-ignored folder the sample sets are written to on first use.
SAMPLES_DIR = REPO_ROOT / "data" / "samples"


class DataError(RuntimeError):
    """A data file that is missing, corrupt or malformed; the message names the file and the fix."""


def md5sum(path, chunk_size=1 << 20):
    """The hexadecimal MD5 digest of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def list_names(names, limit=6):
    """Up to ``limit`` names joined for an error message, and how many more there are."""
    names = [str(name) for name in names]
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def read_sample_manifest(folder):
    """The manifest of a sample-data folder as a dict, or ``None`` for a folder of real data.

    Raises:
        DataError: the manifest exists but cannot be read (the message says how to regenerate the folder).
    """
    manifest = Path(folder) / SAMPLE_MANIFEST
    if not manifest.exists():
        return None
    try:
        return json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(f"{manifest} is not a readable sample-data manifest ({error}). Delete the folder "
                        f"{Path(folder)} and run the command again to regenerate the sample data.") from None


def write_sample_manifest(folder, title, stands_in_for, description, names):
    """Write ``folder/SAMPLE_DATA.json`` for the sample files ``names`` (paths relative to ``folder``).

    Writers call it last, so that a folder with a manifest is a complete one. Returns the manifest as a dict.
    """
    folder = Path(folder)
    manifest = {
        "title": title,
        "stands_in_for": stands_in_for,
        "description": description,
        "md5": {str(name): md5sum(folder / name) for name in names},
    }
    (folder / SAMPLE_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
