"""Checksum-verified access to data-set files, downloading them when they are missing.

``fetch_file(info, name, data_dir)`` returns the path of a verified file. It never uses a file whose MD5
does not match, never overwrites or deletes a file the user put in place, and downloads into a temporary
folder first, so an interrupted or corrupt download leaves nothing half-written in the cache.

Sample data (``common.datasets.samples``) sits in a folder with a ``SAMPLE_DATA.json`` manifest; its
files are verified against that manifest instead of the registry, and reports label them as sample data.
"""

import os
import shutil
import tempfile
from pathlib import Path

from common.datasets.files import SAMPLE_MANIFEST, DataError, md5sum, read_sample_manifest


def _manual_help(info, remote, folder):
    steps = info.manual_steps.format(folder=folder) if info.manual_steps else ""
    where = f" from {remote.url}" if remote.url else ""
    return (f"To place it by hand, download {remote.name}{where} to {folder / remote.name} "
            f"(expected MD5 {remote.md5}). {steps}").strip()


def fetch_file(info, name, data_dir, download=True, folder=None):
    """Return the path of data-set file ``name`` of registry entry ``info``, verified by MD5.

    Args:
        info: a ``DatasetInfo`` from ``common.datasets.registry.REGISTRY``.
        name: the file name, one of ``info.files``.
        data_dir: the data root (``DATA_DIR``); the file lives in ``data_dir/info.folder/name``.
        download: download a missing file from its URL (with a progress bar); if False, raise instead.
        folder: the folder that holds the file instead of ``data_dir/info.folder`` (a user's ``--data PATH``).

    Raises:
        DataError: the file is missing and cannot be downloaded, or its checksum does not match.
    """
    remote = info.file(name)
    if folder is not None and not Path(folder).expanduser().is_dir():
        raise DataError(f"--data {folder}: no such folder. Give the folder that holds your copy of {name}.")
    folder = Path(data_dir) / info.folder if folder is None else Path(folder).expanduser()
    path = folder / name
    manifest = read_sample_manifest(folder)
    expected = remote.md5
    if manifest is not None:
        expected = manifest.get("md5", {}).get(name)
        if expected is None:
            raise DataError(f"{path}: the sample-data folder {folder} does not list {name} in its "
                            f"{SAMPLE_MANIFEST}. Delete {folder} and run again to regenerate it.")
    if path.exists():
        actual = md5sum(path)
        if actual != expected:
            origin = "regenerate the sample data by deleting the folder" if manifest else (
                f"replace it with the official file{' from ' + remote.url if remote.url else ''}")
            raise DataError(
                f"{path} has MD5 {actual}, but {info.title} expects {expected}: the file is truncated, "
                f"corrupt or a different version. It was not used and has been left untouched. Move it "
                f"aside and run again to download a fresh copy, or {origin}."
            )
        return path
    if manifest is not None:
        raise DataError(f"{path} is missing from the sample-data folder {folder}. Delete {folder} and run "
                        "again to regenerate it.")
    if remote.url is None or not download:
        reason = "cannot be downloaded automatically" if remote.url is None else "is missing"
        raise DataError(f"{path} {reason}. {_manual_help(info, remote, folder)}")
    return _download(info, remote, folder)


def _missing_folders(folder):
    """``folder`` and its parents that do not exist yet, innermost first."""
    missing = []
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    return missing


def _download(info, remote, folder):
    """Download ``remote`` into ``folder`` through a temporary folder; raise ``DataError`` on any failure, after
    removing the folders this call created (a failed download leaves the data root as it found it)."""
    import keras  # imported here so that checking files on disk does not start TensorFlow

    created = _missing_folders(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".download-", dir=folder))
    except OSError as error:
        raise DataError(f"Cannot create the data folder {folder} ({error.strerror}). Set DATA_DIR to a "
                        f"writable folder, or place the file by hand. {_manual_help(info, remote, folder)}") from None
    try:
        downloaded = keras.utils.get_file(
            fname=remote.name, origin=remote.url, file_hash=remote.md5, hash_algorithm="md5",
            cache_dir=str(staging), cache_subdir=".",
        )
        # Keras checks the hash after downloading; check again so that no path can skip it.
        if md5sum(downloaded) != remote.md5:
            raise ValueError(f"MD5 mismatch after download (got {md5sum(downloaded)})")
        os.replace(downloaded, folder / remote.name)
    except Exception as error:  # get_file raises plain Exception for network errors
        shutil.rmtree(staging, ignore_errors=True)
        for empty in created:  # innermost first; a folder that holds anything else stays
            try:
                empty.rmdir()
            except OSError:
                break
        raise DataError(
            f"Could not download {info.title} file {remote.name} from {remote.url} ({error}). Nothing was "
            f"written to {folder}. {_manual_help(info, remote, folder)}"
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder / remote.name
