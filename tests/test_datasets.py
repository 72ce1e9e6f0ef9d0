"""Registry, checksum-verified fetching and the USPS readers, on files written into temporary folders."""

import dataclasses
import gzip
import hashlib
import re

import numpy as np
import pytest

from common.datasets.download import fetch_file
from common.datasets.files import DataError, md5sum
from common.datasets.registry import REGISTRY, DatasetInfo, RemoteFile
from common.datasets.usps import load_usps, read_usps_h5, read_usps_text


def _toy_info(url, md5, name="digits.bin"):
    return DatasetInfo(key="toy", title="toy data", folder="toy", homepage="", licence="", citation="",
                       task="multi-class", class_names=("a", "b"), shapes={}, files=(RemoteFile(name, md5, url),),
                       manual_steps="Ask the course team for {folder}.")


@pytest.mark.parametrize("key", sorted(REGISTRY))
def test_registry_entries_are_complete(key):
    info = REGISTRY[key]
    assert info.key == key and info.folder and info.licence and info.citation and info.class_names
    assert info.task in ("binary", "multi-class", "multi-label", "ordinal", "segmentation")
    for remote in info.files:
        assert re.fullmatch(r"[0-9a-f]{32}", remote.md5), remote
        assert remote.url is None or remote.url.startswith("https://")
        assert remote.url or info.manual_steps, f"{remote.name} has neither a URL nor manual steps"


def test_download_through_keras_get_file_verifies_and_places_the_file(tmp_path):
    source = tmp_path / "server" / "digits.bin"
    source.parent.mkdir()
    source.write_bytes(b"0123456789" * 100)
    info = _toy_info(source.as_uri(), md5sum(source))
    path = fetch_file(info, "digits.bin", tmp_path / "data")
    assert path == tmp_path / "data" / "toy" / "digits.bin"
    assert path.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in path.parent.iterdir()) == ["digits.bin"]  # no staging folder left


def test_download_with_wrong_checksum_leaves_nothing_behind(tmp_path):
    source = tmp_path / "digits.bin"
    source.write_bytes(b"tampered")
    info = _toy_info(source.as_uri(), hashlib.md5(b"original").hexdigest())
    with pytest.raises(DataError) as error:
        fetch_file(info, "digits.bin", tmp_path / "data")
    message = str(error.value)
    assert source.as_uri() in message and info.files[0].md5 in message and "by hand" in message
    assert not (tmp_path / "data").exists(), "a failed download removes the folders it created"


def test_offline_download_explains_the_manual_steps(tmp_path):
    # Port 9 on the loopback interface refuses connections: the same failure as being offline.
    info = _toy_info("http://127.0.0.1:9/digits.bin", "0" * 32)
    with pytest.raises(DataError) as error:
        fetch_file(info, "digits.bin", tmp_path)
    message = str(error.value)
    assert "http://127.0.0.1:9/digits.bin" in message
    assert str(tmp_path / "toy" / "digits.bin") in message and "0" * 32 in message
    assert "Ask the course team" in message
    assert list(tmp_path.iterdir()) == [], "a failed download removes the folders it created"


def test_existing_file_with_wrong_checksum_is_refused_and_kept(tmp_path):
    info = REGISTRY["usps"]
    folder = tmp_path / "usps"
    folder.mkdir()
    (folder / "zip.train.gz").write_bytes(b"not the real file")
    with pytest.raises(DataError) as error:
        fetch_file(info, "zip.train.gz", tmp_path)
    message = str(error.value)
    assert str(folder / "zip.train.gz") in message and info.file("zip.train.gz").md5 in message
    assert "left untouched" in message
    assert (folder / "zip.train.gz").read_bytes() == b"not the real file"


def test_file_without_url_names_the_manual_steps(tmp_path):
    with pytest.raises(DataError, match="kaggle.com"):
        fetch_file(REGISTRY["usps_h5"], "usps.h5", tmp_path)


def test_both_usps_forms_load_to_the_same_arrays(usps_sample_root):
    esl = load_usps(usps_sample_root, "esl", download=False)
    h5 = load_usps(usps_sample_root, "h5", download=False)
    assert esl.x_train.shape[1:] == (16, 16, 1) and esl.x_train.dtype == np.float32
    assert esl.y_train.dtype == np.int64 and set(np.unique(esl.y_train)) == set(range(10))
    assert 0.0 <= esl.x_train.min() and esl.x_train.max() <= 1.0
    np.testing.assert_allclose(esl.x_train, h5.x_train, atol=1e-4)
    np.testing.assert_array_equal(esl.y_test, h5.y_test)
    assert esl.is_sample and "not USPS" in esl.title


def test_sample_file_changed_after_generation_is_refused(usps_sample_root, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(usps_sample_root, root)
    with open(root / "usps" / "zip.test.gz", "ab") as handle:
        handle.write(b"junk")
    with pytest.raises(DataError, match="zip.test.gz"):
        load_usps(root, "esl", download=False)


def test_truncated_gzip_names_the_file(usps_sample_root, tmp_path):
    data = (usps_sample_root / "usps" / "zip.train.gz").read_bytes()
    path = tmp_path / "zip.train.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"zip.train.gz.*truncated"):
        read_usps_text(path)


def test_short_line_names_the_file_and_line(tmp_path):
    path = tmp_path / "zip.test.gz"
    good = "3 " + " ".join(["-1"] * 256)
    with gzip.open(path, "wt") as handle:
        handle.write(good + "\n" + good + "\n" + "4 " + " ".join(["-1"] * 100) + "\n")
    with pytest.raises(DataError, match=r"zip.test.gz, line 3: 101 numbers instead of 257"):
        read_usps_text(path)


def test_values_outside_the_esl_range_are_refused(tmp_path):
    path = tmp_path / "zip.test.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("3 " + " ".join(["255"] * 256) + "\n")
    with pytest.raises(DataError, match="outside the expected"):
        read_usps_text(path)


def test_h5_without_test_split_is_refused(tmp_path):
    import h5py

    path = tmp_path / "usps.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("train/data", data=np.zeros((4, 256)))
        handle.create_dataset("train/target", data=np.zeros(4))
    with pytest.raises(DataError, match="test/data"):
        read_usps_h5(path)


def test_registry_info_is_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        REGISTRY["usps"].folder = "elsewhere"


def test_a_data_path_that_is_not_a_folder_is_named_and_nothing_is_downloaded(tmp_path, monkeypatch):
    monkeypatch.setattr("common.datasets.download._download", lambda *a, **k: pytest.fail("downloaded"))
    with pytest.raises(DataError, match=r"--data .*missing: no such folder\. Give the folder that holds .*zip"):
        load_usps(tmp_path / "data", folder=tmp_path / "missing")
    assert not (tmp_path / "missing").exists() and not (tmp_path / "data").exists()
