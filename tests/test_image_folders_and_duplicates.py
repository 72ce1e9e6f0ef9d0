"""The image-folder loader and the duplicate finder on small folders written in temporary directories."""

import io

import numpy as np
import pytest
from PIL import Image

from common.datasets.duplicates import find_duplicates, hamming_distances, perceptual_hashes
from common.datasets.files import DataError
from common.datasets.image_folders import list_image_folder, load_image_folder, read_image


def _pattern(seed, size=96):
    """A smooth random grey picture, distinct for each seed."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    return (255 * np.clip(gaussian_filter(rng.random((size, size)), 4) * 4 - 1.5, 0, 1)).astype(np.uint8)


def _write(path, array, mode="L", **save_options):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).convert(mode).save(path, **save_options)
    return path


def test_mixed_sizes_grey_and_rgb_load_to_one_shape(tmp_path):
    _write(tmp_path / "a" / "1.jpg", _pattern(1, 80))
    _write(tmp_path / "a" / "2.png", _pattern(2, 200), mode="RGB")
    _write(tmp_path / "b" / "3.bmp", _pattern(3, 123))
    (tmp_path / "b" / "notes.txt").write_text("not an image, not listed")
    data = load_image_folder(tmp_path, image_size=32, channels=1)
    assert data.images.shape == (3, 32, 32, 1) and data.images.dtype == np.uint8
    assert data.labels.tolist() == [0, 0, 1] and data.class_names == ["a", "b"] and data.skipped == []
    assert load_image_folder(tmp_path, image_size=32, channels=3).images.shape == (3, 32, 32, 3)


def test_corrupt_file_is_reported_by_path_and_skipped(tmp_path, capsys):
    _write(tmp_path / "a" / "good.jpg", _pattern(1))
    _write(tmp_path / "b" / "good.jpg", _pattern(2))
    (tmp_path / "b" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a whole JPEG")
    data = load_image_folder(tmp_path, image_size=16)
    assert len(data.labels) == 2
    assert [path for path, _ in data.skipped] == [str(tmp_path / "b" / "broken.jpg")]
    assert "broken.jpg" in capsys.readouterr().err


def test_empty_or_missing_class_folder_is_an_error(tmp_path):
    _write(tmp_path / "a" / "1.jpg", _pattern(1))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty holds no image files"):
        list_image_folder(tmp_path)
    with pytest.raises(DataError, match=r"missing"):
        list_image_folder(tmp_path, class_names=["a", "c"])
    with pytest.raises(DataError, match="does not exist"):
        list_image_folder(tmp_path / "nowhere")


def test_a_class_left_without_readable_images_is_an_error(tmp_path):
    _write(tmp_path / "a" / "1.jpg", _pattern(1))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "bad.png").write_bytes(b"nope")
    with pytest.raises(DataError, match="No readable image is left for class 'b'"):
        load_image_folder(tmp_path, image_size=16)


def test_dicom_files_are_read():
    from pydicom.data import get_testdata_file

    image = read_image(get_testdata_file("CT_small.dcm"), image_size=64)
    assert image.shape == (64, 64, 1) and image.dtype == np.uint8 and image.max() > image.min()


def test_hamming_distance_counts_bits():
    a = np.array([0, 0b1011], dtype=np.uint64)
    b = np.array([0b1, np.iinfo(np.uint64).max], dtype=np.uint64)
    assert hamming_distances(a, b).tolist() == [[1, 64], [2, 61]]


def test_planted_exact_and_near_duplicates_are_found(tmp_path):
    train_paths = [_write(tmp_path / "train" / f"{i}.png", _pattern(i)) for i in range(12)]
    test_paths = [
        tmp_path / "test" / "exact.png",  # a byte-for-byte copy of training image 0
        _write(tmp_path / "test" / "recompressed.jpg", _pattern(1), quality=60),  # training image 1, as JPEG
        _write(tmp_path / "test" / "resized.png", np.asarray(Image.fromarray(_pattern(2)).resize((70, 70)))),
        _write(tmp_path / "test" / "new_a.png", _pattern(100)),
        _write(tmp_path / "test" / "new_b.png", _pattern(101)),
    ]
    test_paths[0].write_bytes(train_paths[0].read_bytes())
    train = np.stack([read_image(p, 64) for p in train_paths])
    test = np.stack([read_image(p, 64) for p in test_paths])
    report = find_duplicates(train_paths, train, test_paths, test)
    assert report.exact_test_in_train == 1 and report.exact_within_train == 0
    assert report.test_keep.tolist() == [False, False, False, True, True]
    assert report.near_test_in_train == 3 and report.near_within_train == 0
    assert report.to_dict()["test_kept"] == 2


def test_perceptual_hash_ignores_brightness_but_not_content():
    base = _pattern(5).astype(np.float32)
    hashes = perceptual_hashes(np.stack([base, np.clip(base * 0.8 + 20, 0, 255), _pattern(6).astype(np.float32)]))
    distances = hamming_distances(hashes[:1], hashes)[0]
    assert distances[1] <= 2 < 10 < distances[2]


def test_jpeg_reencoding_is_a_near_duplicate():
    buffer = io.BytesIO()
    Image.fromarray(_pattern(9)).save(buffer, format="JPEG", quality=40)
    reencoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())))
    hashes = perceptual_hashes(np.stack([_pattern(9), reencoded]).astype(np.float32))
    assert hamming_distances(hashes[:1], hashes[1:])[0, 0] <= 2
