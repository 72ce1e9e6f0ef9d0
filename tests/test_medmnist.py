"""MedMNIST v2: the facts table, the registry entries, the loader and its errors, and the synthetic sample files."""

import json
import shutil

import numpy as np
import pytest

from common.datasets import __main__ as datasets_cli
from common.datasets.files import SAMPLE_MANIFEST, DataError
from common.datasets.medmnist import load_medmnist, load_medmnist_npz, to_float_images
from common.datasets.medmnist_info import DEFAULT_DOWNLOADS, MEDMNIST, medmnist_facts, medmnist_key
from common.datasets.registry import REGISTRY
from common.datasets.synthetic_medmnist import write_medmnist_samples

PER_SPLIT = (30, 6, 20)


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory):
    """A data root with the five default MedMNIST stand-ins (30 / 6 / 20 images each) in medmnist/."""
    root = tmp_path_factory.mktemp("medmnist_samples")
    write_medmnist_samples(root, per_split=PER_SPLIT)
    return root


def _official_arrays(images_shape, labels_shape, count=4, label_high=2):
    """The six arrays of a MedMNIST file with ``count`` items per split (labels 0..label_high)."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split in ("train", "val", "test"):
        arrays[f"{split}_images"] = rng.integers(0, 256, (count, *images_shape), dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, label_high + 1, (count, *labels_shape)).astype(np.uint8)
    return arrays


# ---- the facts table -----------------------------------------------------------------------------------


def test_the_three_shared_files_have_the_md5s_of_the_table():
    assert MEDMNIST["retinamnist"].md5[28] == "bd4c0672f1bba3e3a89f0e4e876791e4"
    assert MEDMNIST["adrenalmnist3d"].md5[28] == "bbd3c5a5576322bc4cdfea780653b1ce"
    assert MEDMNIST["adrenalmnist3d"].md5[64] == "17721accfe9fb005146a47d33bc54b2f"


def test_table_covers_the_18_sets_with_their_published_sizes():
    two_d = [flag for flag, facts in MEDMNIST.items() if facts.dimensions == 2]
    three_d = [flag for flag, facts in MEDMNIST.items() if facts.dimensions == 3]
    assert len(two_d) == 12 and len(three_d) == 6
    assert all(MEDMNIST[flag].sizes == (28, 64, 128, 224) for flag in two_d)
    assert all(MEDMNIST[flag].sizes == (28, 64) and flag.endswith("3d") for flag in three_d)
    assert all(MEDMNIST[flag].channels == 1 for flag in three_d)
    md5s = [md5 for facts in MEDMNIST.values() for md5 in facts.md5.values()]
    assert len(set(md5s)) == len(md5s) == 60


def test_tasks_labels_and_channels_of_the_course_sets():
    retina, chest = MEDMNIST["retinamnist"], MEDMNIST["chestmnist"]
    assert (retina.task, retina.num_classes, retina.channels) == ("ordinal", 5, 3)
    assert (chest.task, chest.num_classes, chest.channels) == ("multi-label", 14, 1)
    assert chest.labels[0] == "atelectasis" and chest.labels[-1] == "hernia"
    assert MEDMNIST["adrenalmnist3d"].task == "binary"
    assert MEDMNIST["adrenalmnist3d"].labels == ("normal", "hyperplasia")
    assert MEDMNIST["nodulemnist3d"].labels == ("benign", "malignant")
    assert {facts.task for facts in MEDMNIST.values()} == {"binary", "multi-class", "multi-label", "ordinal"}
    assert MEDMNIST["dermamnist"].licence == "CC BY-NC 4.0"


@pytest.mark.parametrize("flag, total", [
    # Totals stated in the descriptions of medmnist/info.py, independent of its n_samples field.
    ("pathmnist", 100_000 + 7_180), ("chestmnist", 112_120), ("dermamnist", 10_015), ("octmnist", 109_309),
    ("pneumoniamnist", 5_856), ("retinamnist", 1_600), ("breastmnist", 780), ("bloodmnist", 17_092),
    ("tissuemnist", 236_386), ("adrenalmnist3d", 1_584),
])
def test_split_sizes_add_up_to_the_described_totals(flag, total):
    assert sum(MEDMNIST[flag].n_samples) == total


def test_file_names_and_urls_follow_the_package():
    retina = MEDMNIST["retinamnist"]
    assert retina.file_name(28) == "retinamnist.npz" and retina.file_name(224) == "retinamnist_224.npz"
    assert retina.url(64) == "https://zenodo.org/records/10519652/files/retinamnist_64.npz?download=1"
    assert MEDMNIST["adrenalmnist3d"].file_name(64) == "adrenalmnist3d_64.npz"
    assert MEDMNIST["adrenalmnist3d"].image_shape(64) == (64, 64, 64, 1)
    assert MEDMNIST["chestmnist"].image_shape(28) == (28, 28, 1)


def test_unknown_flag_suggests_the_closest():
    with pytest.raises(ValueError, match=r"Unknown MedMNIST flag 'retinamnst'\. Did you mean 'retinamnist'"):
        medmnist_facts("retinamnst")
    with pytest.raises(ValueError, match=r"load_medmnist\('adrenalmnist3d', size=64\)"):
        load_medmnist("adrenalmnist3d_64")
    assert medmnist_facts("RetinaMNIST") is MEDMNIST["retinamnist"]


@pytest.mark.parametrize("flag, size, published", [
    ("adrenalmnist3d", 128, "28, 64"), ("retinamnist", 32, "28, 64, 128, 224"),
    ("chestmnist", "28", "28, 64, 128, 224"),  # a string is not a size
])
def test_unpublished_size_lists_the_published_ones(flag, size, published, tmp_path):
    with pytest.raises(ValueError, match=f"published sizes of the .D sets are {published}"):
        load_medmnist(flag, size=size, data_dir=tmp_path, download=False)


# ---- the registry ---------------------------------------------------------------------------------------


def test_registry_has_one_entry_per_set_and_size():
    keys = {medmnist_key(flag, size) for flag, facts in MEDMNIST.items() for size in facts.sizes}
    assert len(keys) == 60 and keys <= set(REGISTRY)
    assert {"retinamnist", "retinamnist_64", "chestmnist_224", "adrenalmnist3d_64"} <= keys
    info = REGISTRY["adrenalmnist3d_64"]
    assert info.folder == "medmnist" and info.task == "binary" and info.licence == "CC BY 4.0"
    assert info.shapes == {"train": (1188, 64, 64, 64, 1), "val": (98, 64, 64, 64, 1), "test": (298, 64, 64, 64, 1)}
    assert info.files[0].name == "adrenalmnist3d_64.npz" and info.files[0].md5 == "17721accfe9fb005146a47d33bc54b2f"
    assert "Scientific Data" in info.citation and "Zhongshan" in info.citation
    assert "10.5281/zenodo.10519652" in info.manual_steps and "{folder}" in info.manual_steps
    assert REGISTRY["chestmnist"].class_names == MEDMNIST["chestmnist"].labels
    assert REGISTRY["retinamnist"].shapes["train"] == (1080, 28, 28, 3)


def test_download_without_keys_fetches_only_the_default_sets(tmp_path, monkeypatch):
    fetched = []

    def fake_fetch(info, name, data_dir, download=True):
        fetched.append(info.key)
        return tmp_path / name

    monkeypatch.setattr(datasets_cli, "fetch_file", fake_fetch)
    assert datasets_cli.main(["--data-dir", str(tmp_path), "download"]) == 0
    medmnist_fetched = {key for key in fetched if REGISTRY[key].folder == "medmnist"}
    assert medmnist_fetched == set(DEFAULT_DOWNLOADS)
    assert "usps" in fetched
    fetched.clear()
    assert datasets_cli.main(["--data-dir", str(tmp_path), "download", "bloodmnist_128"]) == 0
    assert fetched == ["bloodmnist_128"]


# ---- sample files and the loader ------------------------------------------------------------------------


def test_sample_files_are_in_the_official_format(sample_root):
    folder = sample_root / "medmnist"
    manifest = json.loads((folder / SAMPLE_MANIFEST).read_text())
    assert set(manifest["md5"]) == {"retinamnist.npz", "chestmnist.npz", "nodulemnist3d.npz", "adrenalmnist3d.npz",
                                    "adrenalmnist3d_64.npz", "pneumoniamnist.npz"}
    assert manifest["stands_in_for"] == list(DEFAULT_DOWNLOADS) and "not MedMNIST" in manifest["title"]
    expected = {"retinamnist.npz": ((30, 28, 28, 3), (30, 1)), "chestmnist.npz": ((30, 28, 28), (30, 14)),
                "adrenalmnist3d_64.npz": ((30, 64, 64, 64), (30, 1)), "pneumoniamnist.npz": ((30, 28, 28), (30, 1))}
    for name, (images_shape, labels_shape) in expected.items():
        with np.load(folder / name) as archive:
            assert sorted(archive.files) == sorted(f"{s}_{k}" for s in ("train", "val", "test")
                                                   for k in ("images", "labels"))
            assert archive["train_images"].shape == images_shape and archive["train_images"].dtype == np.uint8
            assert archive["train_labels"].shape == labels_shape and archive["train_labels"].dtype == np.uint8


def test_loader_adds_the_channel_axis_and_flattens_single_labels(sample_root):
    retina = load_medmnist("retinamnist", data_dir=sample_root, download=False)
    x_train, y_train = retina.splits["train"]
    assert x_train.shape == (30, 28, 28, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (30,) and y_train.dtype == np.int64 and set(y_train) == set(range(5))
    assert [len(retina.splits[split][0]) for split in ("train", "val", "test")] == list(PER_SPLIT)
    assert retina.is_sample and "not MedMNIST" in retina.title and retina.task == "ordinal"

    chest = load_medmnist("chestmnist", data_dir=sample_root, download=False)
    x_test, y_test = chest.splits["test"]
    assert x_test.shape == (20, 28, 28, 1) and y_test.shape == (20, 14) and set(np.unique(y_test)) == {0, 1}

    for size in (28, 64):
        adrenal = load_medmnist("adrenalmnist3d", size=size, data_dir=sample_root, download=False)
        x_val, y_val = adrenal.splits["val"]
        assert x_val.shape == (6, size, size, size, 1) and x_val.dtype == np.uint8 and y_val.shape == (6,)
        assert adrenal.md5 == json.loads((sample_root / "medmnist" / SAMPLE_MANIFEST).read_text())["md5"][
            adrenal.path.name]


def _nearest_centroid_accuracy(data):
    (x_train, y_train), (x_test, y_test) = data.splits["train"], data.splits["test"]
    x_train = to_float_images(x_train).reshape(len(x_train), -1)
    x_test = to_float_images(x_test).reshape(len(x_test), -1)
    centroids = np.stack([x_train[y_train == label].mean(axis=0) for label in range(len(data.class_names))])
    predicted = np.argmin(((x_test[:, None] - centroids[None]) ** 2).sum(axis=-1), axis=1)
    return float(np.mean(predicted == y_test))


@pytest.mark.parametrize("flag, size", [("retinamnist", 28), ("nodulemnist3d", 28), ("adrenalmnist3d", 64)])
def test_sample_labels_are_learnable(sample_root, flag, size):
    data = load_medmnist(flag, size=size, data_dir=sample_root, download=False)
    chance = 1.0 / len(data.class_names)
    assert _nearest_centroid_accuracy(data) >= chance + 0.4


def test_multi_label_sample_marks_each_positive_label_at_its_own_spot(sample_root):
    data = load_medmnist("chestmnist", data_dir=sample_root, download=False)
    images, labels = data.splits["train"]
    side = 4  # 14 labels on a 4 x 4 grid
    for label in range(14):
        row, column = divmod(label, side)
        spot = images[:, int((row + 0.5) * 28 / side), int((column + 0.5) * 28 / side), 0].astype(float)
        positives, negatives = spot[labels[:, label] == 1], spot[labels[:, label] == 0]
        assert positives.size and negatives.size and positives.min() > negatives.max(), label


def test_more_flags_can_be_added_to_a_sample_folder(sample_root, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(sample_root, root)
    write_medmnist_samples(root, flags=("breastmnist",), per_split=(4, 2, 2))
    assert load_medmnist("breastmnist", data_dir=root, download=False).splits["train"][0].shape == (4, 28, 28, 1)
    assert load_medmnist("retinamnist", data_dir=root, download=False).splits["val"][0].shape == (6, 28, 28, 3)
    assert json.loads((root / "medmnist" / SAMPLE_MANIFEST).read_text())["stands_in_for"][-1] == "breastmnist"


def test_ensure_samples_writes_the_course_sets(tmp_path):
    from common.datasets.samples import ensure_samples

    root = ensure_samples("medmnist", tmp_path)
    for key in DEFAULT_DOWNLOADS:
        flag, _, size = key.partition("_")
        data = load_medmnist(flag, size=int(size or 28), data_dir=root, download=False)
        assert data.is_sample and len(data.splits["train"][0]) > len(data.splits["val"][0]) > 0


def test_sample_writer_refuses_a_folder_of_real_files(tmp_path):
    (tmp_path / "medmnist").mkdir()
    (tmp_path / "medmnist" / "retinamnist.npz").write_bytes(b"real data")
    with pytest.raises(ValueError, match="looks like real MedMNIST data"):
        write_medmnist_samples(tmp_path, flags=("chestmnist",))


def test_float_images_and_tf_data(sample_root):
    from common.train import as_dataset

    images, labels = load_medmnist("chestmnist", data_dir=sample_root, download=False).splits["val"]
    scaled = to_float_images(images)
    assert scaled.dtype == np.float32 and scaled.min() >= 0.0 and scaled.max() <= 1.0
    assert np.allclose(scaled * 255, images)
    batch_images, batch_labels = next(iter(as_dataset((scaled, labels), batch_size=4, shuffle=False)))
    assert tuple(batch_images.shape) == (4, 28, 28, 1) and tuple(batch_labels.shape) == (4, 14)
    with pytest.raises(ValueError, match="expects uint8"):
        to_float_images(scaled)


# ---- errors ---------------------------------------------------------------------------------------------


def test_missing_file_names_the_url_and_md5(tmp_path):
    with pytest.raises(DataError) as error:
        load_medmnist("nodulemnist3d", data_dir=tmp_path, download=False)
    message = str(error.value)
    assert str(tmp_path / "medmnist" / "nodulemnist3d.npz") in message
    assert "8755a7e9e05a4d9ce80a24c3e7a256f3" in message and "zenodo.org/records/10519652" in message


def test_real_file_with_another_md5_is_refused(sample_root, tmp_path):
    (tmp_path / "medmnist").mkdir()
    shutil.copy(sample_root / "medmnist" / "retinamnist.npz", tmp_path / "medmnist")
    with pytest.raises(DataError, match="bd4c0672f1bba3e3a89f0e4e876791e4.*left untouched"):
        load_medmnist("retinamnist", data_dir=tmp_path, download=False)


def test_npz_missing_keys_names_file_keys_and_layout(tmp_path):
    path = tmp_path / "retinamnist.npz"
    arrays = _official_arrays((28, 28, 3), (1,))
    del arrays["val_labels"], arrays["test_images"]
    np.savez(path, **arrays)
    with pytest.raises(DataError) as error:
        load_medmnist_npz(path, REGISTRY["retinamnist"])
    message = str(error.value)
    assert str(path) in message and "lacks the arrays val_labels, test_images" in message
    assert "{train,val,test}_{images,labels}" in message


def test_images_of_another_size_point_to_the_right_size(tmp_path):
    path = tmp_path / "retinamnist.npz"
    np.savez(path, **_official_arrays((64, 64, 3), (1,)))
    with pytest.raises(DataError, match=r"retinamnist.npz: 'train_images' has shape \(4, 64, 64, 3\).*size=64"):
        load_medmnist_npz(path, "retinamnist")


def test_2d_images_for_a_3d_set_are_refused(tmp_path):
    path = tmp_path / "adrenalmnist3d.npz"
    np.savez(path, **_official_arrays((28, 28), (1,), label_high=1))
    with pytest.raises(DataError, match=r"needs \(N, 28, 28, 28, 1\) \(3D"):
        load_medmnist_npz(path, REGISTRY["adrenalmnist3d"])


@pytest.mark.parametrize("change, expected", [
    (lambda arrays: arrays.update(val_labels=arrays["val_labels"][:3]), "3 labels but 'val_images' has 4 images"),
    (lambda arrays: arrays.update(test_labels=np.full((4, 1), 7, np.uint8)), r"values in \[7, 7\].*\[0, 4\]"),
    (lambda arrays: arrays.update(train_labels=np.zeros((4, 3), np.uint8)), r"shape \(4, 3\).*\(N, 1\) or \(N,\)"),
    (lambda arrays: arrays.update(train_images=arrays["train_images"].astype(np.float32)), "dtype float32"),
    (lambda arrays: arrays.update(val_labels=np.full((4, 1), 0.5)), "not whole numbers"),
])
def test_malformed_arrays_name_the_file_and_the_fix(tmp_path, change, expected):
    path = tmp_path / "retinamnist.npz"
    arrays = _official_arrays((28, 28, 3), (1,), label_high=4)
    change(arrays)
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=expected) as error:
        load_medmnist_npz(path, REGISTRY["retinamnist"])
    assert str(path) in str(error.value) and "official retinamnist.npz from https://zenodo.org" in str(error.value)


def test_multi_label_needs_one_column_per_label(tmp_path):
    path = tmp_path / "chestmnist.npz"
    np.savez(path, **_official_arrays((28, 28), (1,), label_high=1))
    with pytest.raises(DataError, match=r"labels are \(N, 14\) of 0/1"):
        load_medmnist_npz(path, REGISTRY["chestmnist"])


def test_truncated_file_is_reported(sample_root, tmp_path):
    data = (sample_root / "medmnist" / "retinamnist.npz").read_bytes()
    path = tmp_path / "retinamnist.npz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="retinamnist.npz cannot be read as a NumPy .npz file.*truncated"):
        load_medmnist_npz(path, REGISTRY["retinamnist"])
