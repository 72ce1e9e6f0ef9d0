"""Checks of the parts of assignment 5 a student writes (``make check ASSIGNMENT=5``): the CNN
(``model.build_brain_tumor_cnn``) and ``predict.predict_files``. About fifteen seconds."""

import tempfile
from pathlib import Path

import numpy as np

from common.checks import assert_learns, assert_parameters, toy_classes

from .model import build_brain_tumor_cnn
from .predict import predict_files

CLASSES = ["glioma", "meningioma", "notumor", "pituitary"]


def cnn_shapes_and_parameters():
    """CNN: (N, H, W, 1) grey levels in [0, 255] in, (N, 4) probabilities out, and its parameter count."""
    model = build_brain_tumor_cnn((32, 32, 1), 4, filters=(4, 8), dropout_rate=0.4, augment=False)
    scores = np.asarray(model(np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 1)).astype(np.float32)))
    assert scores.shape == (3, 4) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-5), \
        f"expected (3, 4) probabilities, got shape {scores.shape}"
    # Convolutions 9 x (1x4 + 4x4 + 4x8 + 8x8) = 1,044 weights (no bias), batch norm 4 x 24 = 96, the global
    # average of 8 channels -> 4 classes: 36.
    assert_parameters(model, 1_176, 1_176, "the CNN with filters (4, 8)")
    assert "block2_relu2" in {layer.name for layer in model.layers}, "name the layers as the TODO says"


def cnn_learns_a_toy_set():
    """CNN: learns a trivially separable toy set."""
    x, y = toy_classes((32, 32, 1), count=64)
    assert_learns(build_brain_tumor_cnn((32, 32, 1), 2, filters=(4, 8), dropout_rate=0.0, augment=False),
                  x * 255.0, y, epochs=15)


class _FixedModel:
    """Stands in for a Keras model: the probabilities depend on each image's mean grey level."""

    def predict(self, images, verbose=0):
        assert images.dtype == np.float32 and images.shape[1:] == (16, 16, 1), \
            f"predict_files must pass float32 (N, 16, 16, 1) images, passed {images.dtype} {images.shape}"
        bright = (images.mean(axis=(1, 2, 3)) > 127).astype(int)
        return np.eye(4, dtype=np.float32)[bright * 2] * 0.7 + 0.075


def predict_files_reads_predicts_and_reports_errors():
    """predict: one result per file, in order; a missing or unreadable file gets an error, the others a class."""
    from PIL import Image

    info = {"image_size": 16, "channels": 1, "class_names": CLASSES}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        Image.fromarray(np.full((40, 40), 250, np.uint8)).save(folder / "bright.png")
        Image.fromarray(np.full((40, 40), 5, np.uint8)).save(folder / "dark.png")
        (folder / "broken.jpg").write_bytes(b"not an image")
        paths = [folder / "bright.png", folder / "missing.png", folder / "broken.jpg", folder / "dark.png"]
        results = predict_files(_FixedModel(), info, paths)
    assert [Path(result["file"]).name for result in results] == [path.name for path in paths], \
        "one result per file, in the files' order"
    assert "error" in results[1] and "error" in results[2], "the missing and the broken file get an 'error'"
    assert results[0].get("class") == "notumor" and results[3].get("class") == "glioma", \
        f"the most probable class of each readable file; got {results[0].get('class')}, {results[3].get('class')}"
    probabilities = results[0].get("probabilities", {})
    assert set(probabilities) == set(CLASSES) and abs(sum(probabilities.values()) - 1.0) < 1e-5, \
        f"'probabilities' maps every class name to its probability; got {probabilities}"


CHECKS = (cnn_shapes_and_parameters, cnn_learns_a_toy_set, predict_files_reads_predicts_and_reports_errors)
