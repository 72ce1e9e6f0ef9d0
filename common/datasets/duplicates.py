"""Exact and near-duplicate images within and across splits (a leakage check).

Exact duplicates share the MD5 of their file bytes. Near duplicates (re-encoded, resized or slightly
brightened copies) share most bits of a 64-bit perceptual hash: the signs of the 8x8 lowest-frequency DCT
coefficients of the image shrunk to 32x32, relative to their median (the "pHash" of Zauner, 2010). Two images
whose hashes differ in at most ``max_distance`` of 64 bits are counted as near duplicates.
"""

import dataclasses
import hashlib

import numpy as np
from scipy.fft import dctn


def file_md5s(paths):
    """The MD5 of each file's bytes."""
    digests = []
    for path in paths:
        with open(path, "rb") as handle:
            digests.append(hashlib.md5(handle.read()).hexdigest())
    return digests


def perceptual_hashes(images):
    """64-bit perceptual hashes of grey or RGB images (N, H, W[, C]) as a uint64 array of shape (N,)."""
    from PIL import Image

    hashes = np.zeros(len(images), dtype=np.uint64)
    weights = (np.uint64(1) << np.arange(64, dtype=np.uint64))
    for index, image in enumerate(np.asarray(images)):
        grey = image.mean(axis=-1) if image.ndim == 3 else image
        small = np.asarray(Image.fromarray(grey.astype(np.float32)).resize((32, 32), Image.Resampling.BILINEAR))
        low = dctn(small.astype(np.float64), norm="ortho")[:8, :8].ravel()
        bits = low > np.median(low[1:])  # the DC term only carries overall brightness
        hashes[index] = np.sum(weights[bits])
    return hashes


def hamming_distances(a, b):
    """Bit differences between every hash of ``a`` (N,) and of ``b`` (M,): int array (N, M)."""
    xor = np.bitwise_xor(np.asarray(a, np.uint64)[:, None], np.asarray(b, np.uint64)[None, :])
    return np.unpackbits(xor.view(np.uint8).reshape(*xor.shape, 8), axis=-1).sum(axis=-1)


@dataclasses.dataclass
class DuplicateReport:
    """Counts of duplicates, and which test images have a copy in the training split."""

    exact_within_train: int  # training files that repeat an earlier training file
    exact_within_test: int
    exact_test_in_train: int  # test files byte-identical to some training file
    near_test_in_train: int  # test files within max_distance bits of some training image (exact ones included)
    near_within_train: int  # training images within max_distance of an earlier training image
    max_distance: int
    test_keep: np.ndarray  # bool (N_test,): True for test images with no exact or near copy in training

    def to_dict(self):
        data = dataclasses.asdict(self)
        data["test_kept"] = int(self.test_keep.sum())
        data["test_total"] = int(self.test_keep.size)
        del data["test_keep"]
        return data


def _repeats(keys):
    seen, count = set(), 0
    for key in keys:
        count += key in seen
        seen.add(key)
    return count


def find_duplicates(train_paths, train_images, test_paths, test_images, max_distance=2, chunk=512):
    """Compare a test split with a training split; see ``DuplicateReport``."""
    train_md5, test_md5 = file_md5s(train_paths), file_md5s(test_paths)
    train_set = set(train_md5)
    exact_across = np.array([digest in train_set for digest in test_md5], dtype=bool)
    train_hash, test_hash = perceptual_hashes(train_images), perceptual_hashes(test_images)
    near_across = np.zeros(len(test_hash), dtype=bool)
    for start in range(0, len(test_hash), chunk):
        near_across[start:start + chunk] = (
            hamming_distances(test_hash[start:start + chunk], train_hash) <= max_distance).any(axis=1)
    near_within = 0
    for start in range(0, len(train_hash), chunk):
        block = hamming_distances(train_hash[start:start + chunk], train_hash)
        rows = np.arange(block.shape[0])[:, None] + start
        # Count an image only if it is close to an *earlier* one, so that each pair counts once.
        near_within += int(((block <= max_distance) & (np.arange(len(train_hash))[None, :] < rows)).any(axis=1).sum())
    near_across |= exact_across
    return DuplicateReport(
        exact_within_train=_repeats(train_md5), exact_within_test=_repeats(test_md5),
        exact_test_in_train=int(exact_across.sum()), near_test_in_train=int(near_across.sum()),
        near_within_train=near_within, max_distance=max_distance, test_keep=~near_across,
    )
