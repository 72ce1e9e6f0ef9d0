"""Post-training quantization of Keras 3 classifiers to TFLite / LiteRT, and a table comparing the variants.

Four conversions (see the TensorFlow model-optimization guide on post-training quantization):

- "float32": no quantization; the reference TFLite model, numerically the Keras model.
- "dynamic_range": weights stored as int8 (about 4x smaller); activations stay float32 and are quantized on
  the fly inside the int8 kernels. Needs no data.
- "float16": weights stored as float16 (about 2x smaller) and expanded to float32 at load time.
- "full_int8": int8 weights *and* activations, int8 input and output tensors, integer-only kernels
  (``TFLITE_BUILTINS_INT8``), as integer-only accelerators require. The activation ranges are calibrated on a
  representative data set: a few hundred *training* images, never test images.

The Keras model is exported as a SavedModel (``model.export``) and converted with
``tf.lite.TFLiteConverter.from_saved_model``; the result runs with the LiteRT interpreter
(``ai_edge_litert``), which replaces the deprecated ``tf.lite.Interpreter``.

Example::

    tflite_int8 = convert_to_tflite(model, "full_int8", representative_images=x_train)
    scores = run_tflite(tflite_int8, x_test)              # float32 (N, C), like model.predict
    rows = compare_quantized(model, {"float32": convert_to_tflite(model, "float32"), "full_int8": tflite_int8},
                             x_test, y_test, task="multi-class", save_dir="runs/.../tflite")

Quantization-aware training, which needs the tf_keras (Keras 2) stack, lives in ``common.qat``.
"""

import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from common.evaluate import evaluate_predictions
from common.tf_setup import import_tensorflow_quietly, is_native_noise

tf = import_tensorflow_quietly()
import keras  # noqa: E402

MODES = ("float32", "dynamic_range", "float16", "full_int8")
DEFAULT_REPRESENTATIVE_COUNT = 300

@contextmanager
def _quiet_native_stderr():
    """Capture the process-level stderr (C++ logs bypass ``sys.stderr``) and replay all but known noise.

    If the body raises, everything captured is replayed, so the converter's own explanation reaches the user.
    """
    try:
        stderr_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        # No real file descriptor (some notebooks): let the logs through rather than fail.
        yield
        return
    sys.stderr.flush()
    saved_fd = os.dup(stderr_fd)
    failed = False
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), stderr_fd)
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved_fd, stderr_fd)
            os.close(saved_fd)
            captured.seek(0)
            lines = captured.read().decode("utf-8", errors="replace").splitlines()
            kept = [line for line in lines if line and (failed or not is_native_noise(line))]
            if kept:
                print("\n".join(kept), file=sys.stderr)


def _representative_dataset(images, count, seed=0):
    """A generator function yielding ``count`` randomly chosen images, one at a time, as [float32 (1, ...)]."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(images), size=min(count, len(images)), replace=False)

    def generate():
        for index in chosen:
            yield [np.asarray(images[index : index + 1], dtype=np.float32)]

    return generate


def convert_to_tflite(model, mode, representative_images=None, work_dir=None,
                      representative_count=DEFAULT_REPRESENTATIVE_COUNT):
    """Convert a Keras 3 model to a TFLite flatbuffer.

    Args:
        model: a built Keras 3 model with one image input (N, ...) and one output.
        mode: one of ``MODES``: "float32", "dynamic_range", "float16" or "full_int8" (see the module docstring).
        representative_images: float32 array (N, ...) of *training* images, preprocessed exactly as the model's
            inputs; required for "full_int8", whose activation ranges are calibrated on them.
        work_dir: folder for the temporary SavedModel export (default: the system temporary folder).
        representative_count: how many randomly chosen representative images calibrate "full_int8".

    Returns:
        The ``.tflite`` model as bytes. A "full_int8" model takes int8 input and gives int8 output; ``run_tflite``
        and ``TFLiteModel`` quantize and dequantize for you, so they take and return float32 like Keras.
    """
    if mode not in MODES:
        raise ValueError(f"Unknown quantization mode {mode!r}; choose one of {', '.join(MODES)}.")
    if not isinstance(model, keras.Model):
        raise ValueError(f"convert_to_tflite expects a Keras 3 keras.Model, got {type(model).__name__}. For a "
                         "tf_keras (Keras 2) model use tf.lite.TFLiteConverter.from_keras_model directly.")
    if mode == "full_int8":
        if representative_images is None or len(representative_images) == 0:
            raise ValueError("full_int8 calibrates activation ranges on example inputs: pass "
                             "representative_images=x_train (a few hundred training images, preprocessed like "
                             "the model's input), not test images.")
        representative_images = np.asarray(representative_images, dtype=np.float32)
        expected = tuple(model.input_shape[1:])
        if representative_images.shape[1:] != expected or not np.isfinite(representative_images).all():
            raise ValueError(f"representative_images must be finite float32 images of shape (N, *{expected}) like "
                             f"the model's input; got shape {representative_images.shape}.")

    with tempfile.TemporaryDirectory(dir=work_dir, prefix="tflite_export_") as temporary_folder:
        export_folder = str(Path(temporary_folder) / "saved_model")
        with _quiet_native_stderr():
            model.export(export_folder, format="tf_saved_model", verbose=False)
            converter = tf.lite.TFLiteConverter.from_saved_model(export_folder)
            if mode != "float32":
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
            if mode == "float16":
                converter.target_spec.supported_types = [tf.float16]
            elif mode == "full_int8":
                converter.representative_dataset = _representative_dataset(representative_images,
                                                                           representative_count)
                # Integer-only kernels: conversion fails, rather than silently keeping float ops, if an
                # operation has no int8 version.
                converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
                converter.inference_input_type = tf.int8
                converter.inference_output_type = tf.int8
            return bytes(converter.convert())


def _load_flatbuffer(tflite):
    """The model's bytes from bytes or a path to a ``.tflite`` file."""
    if isinstance(tflite, bytes | bytearray):
        return bytes(tflite)
    path = Path(tflite)
    if not path.is_file():
        raise ValueError(f"{path} is not a .tflite file; pass the bytes from convert_to_tflite or a file path.")
    return path.read_bytes()


class TFLiteModel:
    """A ``.tflite`` classifier behind a Keras-like ``predict``: float32 images in, float32 scores out.

    Int8 (and uint8) input tensors are quantized with the scale and zero point stored in the model, and
    quantized outputs are dequantized, so every variant takes exactly what the Keras model takes.

    Args:
        tflite: the model as bytes (from ``convert_to_tflite``) or the path of a ``.tflite`` file.
        num_threads: CPU threads of the interpreter; 1 gives the per-core latency usually reported.
    """

    def __init__(self, tflite, num_threads=1):
        from ai_edge_litert.interpreter import Interpreter

        self.model_bytes = _load_flatbuffer(tflite)
        self.interpreter = Interpreter(model_content=self.model_bytes, num_threads=num_threads)
        inputs = self.interpreter.get_input_details()
        outputs = self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(f"TFLiteModel handles one input and one output; this model has {len(inputs)} "
                             f"inputs and {len(outputs)} outputs.")
        self._input_index = inputs[0]["index"]
        self._output_index = outputs[0]["index"]
        self.input_dtype = np.dtype(inputs[0]["dtype"])
        self.output_dtype = np.dtype(outputs[0]["dtype"])
        self.input_quantization = inputs[0]["quantization"]  # (scale, zero_point); (0.0, 0) when float
        self.output_quantization = outputs[0]["quantization"]
        self.image_shape = tuple(int(size) for size in inputs[0]["shape"][1:])
        self._batch_size = None

    def _resize(self, batch_size):
        if batch_size != self._batch_size:
            self.interpreter.resize_tensor_input(self._input_index, [batch_size, *self.image_shape])
            with _quiet_native_stderr():
                self.interpreter.allocate_tensors()
            self._batch_size = batch_size

    def quantize_input(self, images):
        """float32 images (N, ...) -> the input tensor's dtype (int8 via its scale and zero point)."""
        images = np.asarray(images, dtype=np.float32)
        if not np.issubdtype(self.input_dtype, np.integer):
            return images.astype(self.input_dtype)
        scale, zero_point = self.input_quantization
        if scale == 0:
            raise ValueError("the model's integer input tensor has no quantization scale; it cannot take images.")
        limits = np.iinfo(self.input_dtype)
        quantized = np.round(images / scale + zero_point)
        return np.clip(quantized, limits.min, limits.max).astype(self.input_dtype)

    def dequantize_output(self, raw):
        """The output tensor (N, C) -> float32 scores (N, C)."""
        if not np.issubdtype(self.output_dtype, np.integer):
            return np.asarray(raw, dtype=np.float32)
        scale, zero_point = self.output_quantization
        return ((np.asarray(raw, dtype=np.float32) - zero_point) * scale).astype(np.float32)

    def invoke_prepared(self, prepared_batch):
        """Run one batch already in the input tensor's dtype; returns the raw output tensor (a copy)."""
        self._resize(len(prepared_batch))
        self.interpreter.set_tensor(self._input_index, prepared_batch)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._output_index)

    def predict(self, images, batch_size=64):
        """Scores for ``images``.

        Args:
            images: float32 array (N, *image_shape), preprocessed as for the Keras model.
            batch_size: images per interpreter call (the input tensor is resized to it); 1 runs image by
                image, as latency is measured.

        Returns:
            float32 array (N, C) of scores (probabilities for a softmax model).
        """
        images = np.asarray(images, dtype=np.float32)
        if images.ndim == len(self.image_shape):
            images = images[None]
        if images.shape[1:] != self.image_shape:
            raise ValueError(f"this model takes images of shape (N, *{self.image_shape}), got {images.shape}.")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
        prepared = self.quantize_input(images)
        outputs = [self.invoke_prepared(prepared[start : start + batch_size])
                   for start in range(0, len(prepared), int(batch_size))]
        return self.dequantize_output(np.concatenate(outputs, axis=0))


def run_tflite(tflite, images, num_threads=1, batch_size=64):
    """Float32 scores (N, C) of a ``.tflite`` model (bytes or path) for float32 images (N, ...); see
    ``TFLiteModel.predict``."""
    return TFLiteModel(tflite, num_threads=num_threads).predict(images, batch_size=batch_size)


def measure_tflite_latency(tflite, example_image, repeats=50, warmup=5, num_threads=1):
    """Median time, in milliseconds, of one single-image inference (set input, invoke, read output).

    Args:
        tflite: bytes, a ``.tflite`` path, or a ``TFLiteModel``.
        example_image: one image (H, W, C) or a batch (N, H, W, C) whose first image is used.
        repeats: timed runs; the median is returned. warmup: untimed runs first (memory allocation, caches).
        num_threads: interpreter threads (ignored for a ``TFLiteModel``, which has its own).
    """
    runner = tflite if isinstance(tflite, TFLiteModel) else TFLiteModel(tflite, num_threads=num_threads)
    image = np.asarray(example_image, dtype=np.float32)
    if image.shape == runner.image_shape:
        image = image[None]
    prepared = runner.quantize_input(image[:1])
    for _ in range(warmup):
        runner.invoke_prepared(prepared)
    times = []
    for _ in range(max(1, int(repeats))):
        start = time.perf_counter()
        runner.invoke_prepared(prepared)
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def tensor_dtypes(tflite):
    """What a ``.tflite`` model stores and computes in, read from its flatbuffer (main subgraph).

    Constant tensors (weights, biases, shapes) are told apart from activations (the model input and every
    operator output), so a test can show that a full-int8 model really has int8 weights *and* activations.

    Returns:
        {"input": "INT8", "output": "INT8", "weights": {"INT8": 6, "INT32": 6}, "activations": {"INT8": 17},
         "operators": 23}: dtype names as in the TFLite schema, counts of tensors per dtype.
    """
    from ai_edge_litert import schema_py_generated as schema

    type_names = {value: name for name, value in vars(schema.TensorType).items() if not name.startswith("_")}
    flatbuffer = schema.Model.GetRootAs(_load_flatbuffer(tflite), 0)
    subgraph = flatbuffer.Subgraphs(0)
    produced = set(int(index) for index in subgraph.InputsAsNumpy())
    consumed = set()
    for op_index in range(subgraph.OperatorsLength()):
        operator = subgraph.Operators(op_index)
        produced.update(int(index) for index in operator.OutputsAsNumpy())
        if operator.InputsLength():
            consumed.update(int(index) for index in operator.InputsAsNumpy() if index >= 0)

    def type_of(index):
        return type_names[subgraph.Tensors(index).Type()]

    def counts(indices):
        summary = {}
        for index in sorted(indices):
            summary[type_of(index)] = summary.get(type_of(index), 0) + 1
        return summary

    return {
        "input": type_of(int(subgraph.Inputs(0))),
        "output": type_of(int(subgraph.Outputs(0))),
        "weights": counts(consumed - produced),
        "activations": counts(produced),
        "operators": subgraph.OperatorsLength(),
    }


def _predicted_labels(scores, task):
    """Hard predictions used for agreement: thresholded at 0.5 for multi-label and single-column binary
    scores, the arg-max otherwise."""
    if task == "multi-label" or scores.shape[1] == 1:
        return scores >= 0.5
    return scores.argmax(axis=1)


def _agreement(reference_labels, labels):
    if reference_labels.ndim == 2:  # multi-label: a sample agrees when every label does
        return float((reference_labels == labels).all(axis=1).mean())
    return float((reference_labels == labels).mean())


def compare_quantized(model, variants, x_test, y_test, task, class_names=None, save_dir=None,
                      latency_repeats=50, num_threads=1, batch_size=64):
    """Evaluate the Keras model and its TFLite variants on the same test set: one table row each.

    Args:
        model: the Keras 3 model the variants were converted from (the reference row "keras").
        variants: dict name -> ``.tflite`` bytes or path, e.g. {"float32": ..., "full_int8": ...}; a "float32"
            variant, if present, is the base of ``size_ratio_vs_float32``.
        x_test: float32 images (N, ...) as the model takes them. y_test: labels as ``evaluate_predictions``
            takes them for ``task``.
        task, class_names: as for ``common.evaluate.evaluate_predictions``.
        save_dir: if given, each variant is written there as ``<name>.tflite`` and its path is in the row.
        latency_repeats, num_threads: single-image latency measurement (median ms, batch 1).
        batch_size: images per call when scoring the test set.

    Returns:
        A list of dicts with keys variant, file_bytes, size_ratio_vs_float32, accuracy, auc, latency_ms,
        agreement_with_keras (share of samples whose predicted class is the Keras model's),
        max_abs_score_difference (largest |score - Keras score| over all samples and classes) and path. The
        "keras" row has file_bytes and size_ratio_vs_float32 None (a ``.keras`` file is not comparable) and its
        latency from ``common.profiling.measure_latency`` (TensorFlow, batch 1).
    """
    from common.profiling import measure_latency

    if not variants:
        raise ValueError("variants is empty; pass e.g. {'float32': convert_to_tflite(model, 'float32')}.")
    x_test = np.asarray(x_test, dtype=np.float32)
    keras_scores = np.asarray(model.predict(x_test, batch_size=batch_size, verbose=0), dtype=np.float32)
    keras_scores = keras_scores.reshape(len(x_test), -1)
    keras_labels = _predicted_labels(keras_scores, task)
    if save_dir is not None:
        save_dir = Path(save_dir)
        save_dir.mkdir(parents=True, exist_ok=True)
    model_bytes = {name: _load_flatbuffer(tflite) for name, tflite in variants.items()}
    float32_bytes = len(model_bytes["float32"]) if "float32" in model_bytes else None

    keras_metrics = evaluate_predictions(y_test, keras_scores, task, class_names)
    rows = [{
        "variant": "keras",
        "file_bytes": None,
        "size_ratio_vs_float32": None,
        "accuracy": keras_metrics["accuracy"],
        "auc": keras_metrics["auc"],
        "latency_ms": measure_latency(model, x_test[:1], batch_size=1, repeats=latency_repeats)["batch1_ms"],
        "agreement_with_keras": 1.0,
        "max_abs_score_difference": 0.0,
        "path": None,
    }]
    for name, content in model_bytes.items():
        runner = TFLiteModel(content, num_threads=num_threads)
        scores = runner.predict(x_test, batch_size=batch_size).reshape(len(x_test), -1)
        metrics = evaluate_predictions(y_test, scores, task, class_names)
        path = None
        if save_dir is not None:
            path = save_dir / f"{name}.tflite"
            path.write_bytes(content)
        rows.append({
            "variant": name,
            "file_bytes": len(content),
            "size_ratio_vs_float32": len(content) / float32_bytes if float32_bytes else None,
            "accuracy": metrics["accuracy"],
            "auc": metrics["auc"],
            "latency_ms": measure_tflite_latency(runner, x_test[:1], repeats=latency_repeats),
            "agreement_with_keras": _agreement(keras_labels, _predicted_labels(scores, task)),
            "max_abs_score_difference": float(np.abs(scores - keras_scores).max()),
            "path": str(path) if path is not None else None,
        })
    return rows
