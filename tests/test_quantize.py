"""Post-training quantization (common.quantize), quantization-aware training in a child process (common.qat) and
the Keras 3 / tf_keras twin builds of common.models.custom_cnn, on a tiny toy task.

The toy task: 16x16 grey images of noise with one bright shape at a random place, a horizontal bar (class 0),
a vertical bar (class 1) or a square (class 2). A small custom CNN learns it in three epochs, so the
predictions are confident and a quantized model that agrees with Keras is evidence, not luck.
"""

import os

import numpy as np
import pytest

from common.tf_setup import import_tensorflow_quietly

import_tensorflow_quietly()
import keras  # noqa: E402

from common.models.custom_cnn import build_custom_cnn  # noqa: E402
from common.qat import copy_weights_by_layer_name, run_qat, save_qat_data  # noqa: E402
from common.quantize import (  # noqa: E402
    MODES,
    TFLiteModel,
    apply_activation,
    compare_quantized,
    convert_to_tflite,
    measure_tflite_latency,
    run_tflite,
    tensor_dtypes,
)
from common.train import recalibrate_batch_norm  # noqa: E402

IMAGE_SHAPE = (16, 16, 1)
CLASS_NAMES = ("horizontal_bar", "vertical_bar", "square")
TOY_MODEL_KWARGS = {"input_shape": list(IMAGE_SHAPE), "num_classes": 3, "filters": [8, 16], "dense_units": 64,
                    "dropout_rate": 0.1}
# float32 TFLite runs the same float32 arithmetic as Keras, in another order: only round-off may differ.
FLOAT32_TOLERANCE = 1e-4
# On the toy test set (confident predictions) float16 weights moved the probabilities by ~4e-5 and int8 weights
# (dynamic range) by ~5e-4 when these were set; the limits leave a 20x margin.
FLOAT16_TOLERANCE = 1e-3
DYNAMIC_RANGE_TOLERANCE = 1e-2
MIN_INT8_AGREEMENT = 0.9


def make_toy_images(count, seed):
    """float32 images (count, 16, 16, 1), noise of sd 0.1 plus one shape of intensity 1; int64 labels (count,)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, count)
    images = rng.normal(0.0, 0.1, (count, *IMAGE_SHAPE)).astype(np.float32)
    for image, label in zip(images, labels):
        row, column = rng.integers(1, 8, 2)
        if label == 0:
            image[row + 2 : row + 4, column : column + 8] += 1.0
        elif label == 1:
            image[row : row + 8, column + 2 : column + 4] += 1.0
        else:
            image[row + 2 : row + 6, column + 2 : column + 6] += 1.0
    return images, labels.astype(np.int64)


@pytest.fixture(scope="module")
def toy_data():
    x_train, y_train = make_toy_images(600, seed=1)
    x_val, y_val = make_toy_images(200, seed=2)
    x_test, y_test = make_toy_images(200, seed=3)
    return {"x_train": x_train, "y_train": y_train, "x_val": x_val, "y_val": y_val, "x_test": x_test,
            "y_test": y_test}


@pytest.fixture(scope="module")
def trained_model(toy_data):
    keras.utils.set_random_seed(0)
    model = build_custom_cnn(**TOY_MODEL_KWARGS)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(toy_data["x_train"], toy_data["y_train"], validation_data=(toy_data["x_val"], toy_data["y_val"]),
              epochs=3, batch_size=32, verbose=0)
    # Three short epochs leave batch norm's moving averages far from the final statistics; re-estimate them.
    recalibrate_batch_norm(model, toy_data["x_train"])
    accuracy = (model.predict(toy_data["x_test"], verbose=0).argmax(axis=1) == toy_data["y_test"]).mean()
    assert accuracy >= 0.95, f"the toy model did not learn the toy task (test accuracy {accuracy:.2f})"
    return model


@pytest.fixture(scope="module")
def variants(trained_model, toy_data):
    return {mode: convert_to_tflite(trained_model, mode, representative_images=toy_data["x_train"])
            for mode in MODES}


@pytest.fixture(scope="module")
def keras_scores(trained_model, toy_data):
    return trained_model.predict(toy_data["x_test"], verbose=0)


def test_float32_tflite_matches_keras(trained_model, variants, keras_scores, toy_data, tmp_path):
    path = tmp_path / "float32.tflite"
    path.write_bytes(variants["float32"])
    batched = run_tflite(variants["float32"], toy_data["x_test"], batch_size=64)
    one_by_one = run_tflite(path, toy_data["x_test"][:20], batch_size=1)
    assert batched.dtype == np.float32 and batched.shape == keras_scores.shape
    np.testing.assert_allclose(batched, keras_scores, atol=FLOAT32_TOLERANCE)
    np.testing.assert_allclose(one_by_one, keras_scores[:20], atol=FLOAT32_TOLERANCE)
    # Noise images give uncertain, mid-range probabilities, where a numerical difference cannot hide in
    # saturated 0s and 1s.
    noise = np.random.default_rng(5).normal(0.3, 0.5, (50, *IMAGE_SHAPE)).astype(np.float32)
    noise_scores = trained_model.predict(noise, verbose=0)
    assert noise_scores.max(axis=1).min() < 0.9
    np.testing.assert_allclose(run_tflite(variants["float32"], noise), noise_scores, atol=FLOAT32_TOLERANCE)
    assert tensor_dtypes(variants["float32"])["weights"].keys() <= {"FLOAT32", "INT32"}


def test_dynamic_range_and_float16_stay_close_to_keras(variants, keras_scores, toy_data):
    for mode, tolerance, weight_dtype in (("dynamic_range", DYNAMIC_RANGE_TOLERANCE, "INT8"),
                                          ("float16", FLOAT16_TOLERANCE, "FLOAT16")):
        scores = run_tflite(variants[mode], toy_data["x_test"])
        assert np.abs(scores - keras_scores).max() <= tolerance, mode
        assert (scores.argmax(axis=1) == keras_scores.argmax(axis=1)).mean() >= 0.98, mode
        summary = tensor_dtypes(variants[mode])
        assert summary["weights"].get(weight_dtype, 0) > 0, (mode, summary)
        assert summary["input"] == summary["output"] == "FLOAT32", (mode, summary)


def test_weight_quantization_shrinks_the_file():
    # Untrained weights are enough for sizes. This model has most of its 70 k parameters in 3x3 convolutions,
    # so the fixed per-tensor overhead of the flatbuffer does not hide the 4x (int8) and 2x (float16) savings.
    model = build_custom_cnn((16, 16, 1), 3, filters=(32, 64), dense_units=64)
    sizes = {mode: len(convert_to_tflite(model, mode)) for mode in ("float32", "dynamic_range", "float16")}
    assert sizes["float32"] > 4 * model.count_params() * 0.9
    assert sizes["dynamic_range"] <= sizes["float32"] / 3, sizes
    assert sizes["float16"] <= sizes["float32"] * 0.55, sizes


def test_full_int8_has_int8_tensors_and_agrees_with_keras(variants, keras_scores, toy_data):
    summary = tensor_dtypes(variants["full_int8"])
    assert summary["input"] == summary["output"] == "INT8", summary
    assert summary["weights"].get("INT8", 0) >= 6, summary  # the 4 convolutions and 2 dense layers
    assert "FLOAT32" not in summary["weights"] and set(summary["activations"]) == {"INT8"}, summary

    runner = TFLiteModel(variants["full_int8"], output_activation="softmax")
    assert runner.input_dtype == np.int8 and runner.input_quantization[0] > 0
    scores = runner.predict(toy_data["x_test"])
    assert scores.dtype == np.float32 and scores.shape == keras_scores.shape
    assert scores.min() >= 0.0 and scores.max() <= 1.0 and np.allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    agreement = (scores.argmax(axis=1) == keras_scores.argmax(axis=1)).mean()
    assert agreement >= MIN_INT8_AGREEMENT, agreement
    # The integer model ends at the logits: without the activation its outputs are not probabilities.
    logits = TFLiteModel(variants["full_int8"]).predict(toy_data["x_test"])
    assert (logits < 0).any() and np.allclose(apply_activation(logits, "softmax"), scores)


def _confident_binary_data(count, seed):
    """Two overlapping classes told apart by the first of three features (AUC about 0.78)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    features = rng.normal(0.0, 1.0, (count, 3)).astype(np.float32)
    features[:, 0] += np.where(labels == 1, 0.6, -0.6)
    return features, labels


def test_full_int8_keeps_the_ranking_of_a_confident_binary_model():
    """A binary model whose logits are a steep function of its input is confident: most probabilities lie
    within 1/256 of 0 or 1. Int8 probabilities would collapse them onto a few levels (16 distinct scores, AUC
    -0.03 here); int8 logits with the softmax after dequantization keep the ranking."""
    inputs = keras.Input((3,), name="features")
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="predictions")(inputs))
    model.layers[-1].set_weights([np.array([[-12.0, 12.0], [0.0, 0.0], [0.0, 0.0]], np.float32),
                                  np.zeros(2, np.float32)])
    x_train, _ = _confident_binary_data(500, seed=1)
    x_test, y_test = _confident_binary_data(600, seed=2)
    variants = {mode: convert_to_tflite(model, mode, representative_images=x_train) for mode in ("float32",
                                                                                                "full_int8")}
    rows = {row["variant"]: row for row in compare_quantized(model, variants, x_test, y_test, "binary",
                                                             latency_repeats=5)}
    keras_row, int8 = rows["keras"], rows["full_int8"]
    assert abs(int8["auc"] - keras_row["auc"]) <= 0.01, (int8["auc"], keras_row["auc"])
    assert int8["distinct_scores"] >= keras_row["distinct_scores"] / 10, (int8, keras_row)
    assert not int8["auc_flag"] and int8["output"] == "logits + softmax after dequantization"
    assert tensor_dtypes(variants["full_int8"])["output"] == "INT8"


def test_latency_is_measured_in_turns_with_its_spread():
    from common.quantize import interleaved_latency

    order = []
    timings = interleaved_latency({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, repeats=4,
                                  warmup=1)
    assert order == ["a", "b", "a", "b", "b", "a", "a", "b", "b", "a"], "warm-up, then the order rotates"
    assert set(timings) == {"a", "b"} and timings["a"]["repeats"] == 4
    assert 0 <= timings["a"]["p10_ms"] <= timings["a"]["median_ms"] <= timings["a"]["p90_ms"]


def test_compare_quantized_table_and_saved_files(trained_model, variants, toy_data, tmp_path):
    rows = compare_quantized(trained_model, variants, toy_data["x_test"], toy_data["y_test"], task="multi-class",
                             class_names=CLASS_NAMES, save_dir=tmp_path / "tflite", latency_repeats=5)
    by_name = {row["variant"]: row for row in rows}
    assert [row["variant"] for row in rows] == ["keras", *MODES]
    assert by_name["keras"]["agreement_with_keras"] == 1.0 and by_name["keras"]["file_bytes"] is None
    assert by_name["float32"]["size_ratio_vs_float32"] == 1.0
    assert by_name["float32"]["max_abs_score_difference"] <= FLOAT32_TOLERANCE
    assert by_name["full_int8"]["size_ratio_vs_float32"] < 0.75
    for row in rows:
        assert row["latency_ms"] > 0 and 0.0 <= row["auc"] <= 1.0 and row["latency_p90_ms"] >= row["latency_ms"]
        assert abs(row["accuracy"] - by_name["keras"]["accuracy"]) <= 0.1, row
        assert not row["auc_flag"], row
    assert by_name["float32"]["speedup_vs_float32"] == 1.0 and by_name["full_int8"]["speedup_vs_float32"] > 0
    for mode in MODES:
        saved = tmp_path / "tflite" / f"{mode}.tflite"
        assert by_name[mode]["path"] == str(saved) and saved.read_bytes() == variants[mode]
    assert measure_tflite_latency(variants["full_int8"], toy_data["x_test"][0], repeats=3) > 0


def test_bad_arguments_raise_clear_errors(trained_model, variants, toy_data):
    with pytest.raises(ValueError, match="dynamic_range, float16, full_int8"):
        convert_to_tflite(trained_model, "int4")
    with pytest.raises(ValueError, match="representative_images=x_train"):
        convert_to_tflite(trained_model, "full_int8")
    with pytest.raises(ValueError, match="representative_images must be"):
        convert_to_tflite(trained_model, "full_int8", representative_images=np.zeros((4, 8, 8, 1), np.float32))
    with pytest.raises(ValueError, match="takes images of shape"):
        run_tflite(variants["float32"], np.zeros((2, 8, 8, 1), np.float32))
    with pytest.raises(ValueError, match="not a .tflite file"):
        run_tflite("no_such_model.tflite", toy_data["x_test"])
    with pytest.raises(ValueError, match="at least 4"):
        build_custom_cnn((2, 2, 1), 3, filters=(8, 16))
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        build_custom_cnn((16, 16, 16, 1), 3)


def test_keras3_and_tf_keras_builds_are_twins(trained_model, toy_data):
    # Importing tf_keras (not tfmot) leaves this process on Keras 3, so the twin can be built here.
    import tf_keras

    twin = build_custom_cnn(**TOY_MODEL_KWARGS, keras_module=tf_keras)
    assert isinstance(twin, tf_keras.Model) and not isinstance(twin, keras.Model)
    assert [layer.name for layer in twin.layers] == [layer.name for layer in trained_model.layers]
    assert [[w.shape for w in layer.get_weights()] for layer in twin.layers] == \
        [[w.shape for w in layer.get_weights()] for layer in trained_model.layers]
    copy_weights_by_layer_name(trained_model, twin)
    images = toy_data["x_test"][:16]
    np.testing.assert_allclose(twin(images, training=False).numpy(), trained_model(images, training=False),
                               atol=1e-5)

    wider = build_custom_cnn(**{**TOY_MODEL_KWARGS, "filters": [8, 32]}, keras_module=tf_keras)
    with pytest.raises(ValueError, match="block2_conv1: weight shapes"):
        copy_weights_by_layer_name(trained_model, wider)
    assert os.environ.get("TF_USE_LEGACY_KERAS") is None and keras.__version__.startswith("3")


def test_quantization_aware_training_in_a_child_process(trained_model, toy_data, keras_scores, tmp_path):
    legacy_before = os.environ.get("TF_USE_LEGACY_KERAS")
    model_path = tmp_path / "toy.keras"
    trained_model.save(model_path)
    data_path = save_qat_data(tmp_path / "qat_data.npz", toy_data["x_train"][:300], toy_data["y_train"][:300],
                              toy_data["x_val"], toy_data["y_val"])

    result = run_qat(model_path, build_custom_cnn, TOY_MODEL_KWARGS, data_path, tmp_path / "qat_int8.tflite",
                     epochs=1, batch_size=32, learning_rate=1e-4, timeout=300)
    assert result["twin_max_abs_difference"] <= 1e-4
    assert len(result["history"]["val_accuracy"]) == 1
    summary = tensor_dtypes(result["tflite_path"])
    assert summary["input"] == summary["output"] == "INT8", summary
    assert summary["weights"].get("INT8", 0) >= 6 and set(summary["activations"]) == {"INT8"}, summary
    assert result["output"] == "logits" and result["output_activation"] == "softmax"
    qat_scores = run_tflite(result["tflite_path"], toy_data["x_test"], output_activation="softmax")
    assert np.allclose(qat_scores.sum(axis=1), 1.0, atol=1e-5)
    qat_accuracy = (qat_scores.argmax(axis=1) == toy_data["y_test"]).mean()
    keras_accuracy = (keras_scores.argmax(axis=1) == toy_data["y_test"]).mean()
    assert qat_accuracy >= keras_accuracy - 0.05, (qat_accuracy, keras_accuracy)

    # A builder call that does not rebuild the trained architecture fails in the child, with its reason.
    with pytest.raises(RuntimeError, match="block2_conv1: weight shapes"):
        run_qat(model_path, build_custom_cnn, {**TOY_MODEL_KWARGS, "filters": [8, 32]}, data_path,
                tmp_path / "mismatch.tflite", epochs=1, timeout=300)
    # tfmot's switch to legacy Keras stayed in the child.
    assert os.environ.get("TF_USE_LEGACY_KERAS") == legacy_before
    assert keras.__version__.startswith("3")
