"""Post-training quantization of Keras 3 classifiers to TFLite / LiteRT, and a table comparing the variants.

Four conversions (see the TensorFlow model-optimization guide on post-training quantization):

- "float32": no quantization; the reference TFLite model, numerically the Keras model.
- "dynamic_range": weights stored as int8 (about 4x smaller); activations stay float32 and are quantized on
  the fly inside the int8 kernels. Needs no data.
- "float16": weights stored as float16 (about 2x smaller) and expanded to float32 at load time.
- "full_int8": int8 weights *and* activations, int8 input and output tensors, integer-only kernels
  (``TFLITE_BUILTINS_INT8``), as integer-only accelerators require. The activation ranges are calibrated on a
  representative data set: a few hundred *training* images, never test images. The integer model ends at the
  **logits**: its softmax (or sigmoid) is computed in float32 after dequantization (``TFLiteModel`` does it when
  given ``output_activation``). A softmax inside the integer graph would give int8 probabilities, at most 256
  levels between 0 and 1: on a confident model most scores then fall onto a few levels near 0 and 1, and the
  ties wreck the ranking (a binary model lost 0.12 of its AUC that way, at the same accuracy). The logits keep
  256 levels over their whole range, where the ranking lives; the final activation over a handful of numbers
  costs nothing on the host.

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
from common.tf_setup import import_tensorflow_quietly, is_native_noise, native_stderr_fd

tf = import_tensorflow_quietly()
import keras  # noqa: E402

MODES = ("float32", "dynamic_range", "float16", "full_int8")
DEFAULT_REPRESENTATIVE_COUNT = 300
# Variants whose .tflite ends at int8 logits (full_int8 here, and the QAT model of common.qat): their scores are
# the Keras model's own output activation applied after dequantization.
LOGIT_VARIANTS = ("full_int8", "qat_int8")
# A variant whose AUC moves by more than this from float32's is flagged in the comparison table.
AUC_TOLERANCE = 0.01
# Below this speed-up over float32 a quantized variant is "not faster", and the notes say why it may be.
FASTER = 1.1

@contextmanager
def _quiet_native_stderr():
    """Capture the process-level stderr (C++ logs bypass ``sys.stderr``) and replay all but known noise.

    If the body raises, everything captured is replayed, so the converter's own explanation reaches the user.
    """
    stderr_fd = native_stderr_fd()
    if stderr_fd is None:  # no stderr file descriptor: let the logs through rather than fail
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


def output_activation(model):
    """The final activation of a classifier: "softmax", "sigmoid" or "linear" (the model gives logits)."""
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    name = getattr(activation, "__name__", str(activation)) if activation is not None else "linear"
    if name not in ("softmax", "sigmoid", "linear"):
        raise ValueError(f"{model.name} ends in a {name!r} activation; the quantized variants handle softmax, "
                         "sigmoid or linear (logit) outputs.")
    return name


def logits_model(model):
    """``model`` without its final softmax or sigmoid: the last Dense layer again, linear, with the same weights.
    A model that already ends at logits is returned as it is."""
    if output_activation(model) == "linear":
        return model
    last = model.layers[-1]
    if not isinstance(last, keras.layers.Dense):
        raise ValueError(f"{model.name}'s last layer {last.name} is a {type(last).__name__}; the integer model can end "
                         "at the logits only when the classifier is a Dense layer with its activation.")
    logits = keras.layers.Dense(last.units, activation=None, dtype="float32", name=f"{last.name}_logits")
    outputs = logits(last.input)
    logits.set_weights(last.get_weights())
    return keras.Model(model.input, outputs, name=f"{model.name}_logits")


def apply_activation(logits, activation):
    """float32 scores from logits (N, C): "softmax" over the last axis, "sigmoid" per column, or unchanged."""
    logits = np.asarray(logits, dtype=np.float64)
    if activation == "softmax":
        shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return (shifted / shifted.sum(axis=-1, keepdims=True)).astype(np.float32)
    if activation == "sigmoid":
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    if activation in (None, "linear"):
        return logits.astype(np.float32)
    raise ValueError(f"output activation must be softmax, sigmoid or linear, not {activation!r}.")


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
        The ``.tflite`` model as bytes. A "full_int8" model takes int8 input and gives int8 *logits* (see the
        module docstring); ``TFLiteModel(..., output_activation=output_activation(model))`` quantizes the images,
        dequantizes the logits and applies the activation, so it takes and returns float32 like Keras.
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

    if mode == "full_int8":
        model = logits_model(model)
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
        output_activation: for a model that ends at logits (a "full_int8" or QAT model), the activation to apply
            after dequantization: "softmax" or "sigmoid" (``output_activation(keras_model)``); None: none.
    """

    def __init__(self, tflite, num_threads=1, output_activation=None):
        from ai_edge_litert.interpreter import Interpreter

        apply_activation(np.zeros((1, 1)), output_activation)  # an unknown activation fails here, not later
        self.output_activation = output_activation
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
        """The output tensor (N, C) -> float32 scores (N, C), with ``output_activation`` applied."""
        values = np.asarray(raw, dtype=np.float32)
        if np.issubdtype(self.output_dtype, np.integer):
            scale, zero_point = self.output_quantization
            values = (values - zero_point) * scale
        return apply_activation(values, self.output_activation)

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


def run_tflite(tflite, images, num_threads=1, batch_size=64, output_activation=None):
    """Float32 scores (N, C) of a ``.tflite`` model (bytes or path) for float32 images (N, ...); see
    ``TFLiteModel``."""
    return TFLiteModel(tflite, num_threads=num_threads, output_activation=output_activation).predict(
        images, batch_size=batch_size)


def interleaved_latency(runners, repeats=300, warmup=10):
    """Single-inference times of several models, measured in turns, so that machine noise hits them alike.

    Each round times one inference of every runner, in an order that rotates from round to round (no runner
    always follows the same one); ``warmup`` untimed rounds come first (memory allocation, caches, lazy kernel
    set-up).

    Args:
        runners: {name: a function of no arguments that runs one inference}.
        repeats: timed rounds.

    Returns:
        {name: {"median_ms", "p10_ms", "p90_ms", "repeats"}}: the median and the 10th / 90th percentiles.
    """
    names = list(runners)
    for _ in range(max(0, int(warmup))):
        for name in names:
            runners[name]()
    times = {name: [] for name in names}
    for round_index in range(max(1, int(repeats))):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            runners[name]()
            times[name].append(time.perf_counter() - start)
    return {name: {"median_ms": 1000.0 * float(np.median(values)), "p10_ms": 1000.0 * float(np.percentile(values, 10)),
                   "p90_ms": 1000.0 * float(np.percentile(values, 90)), "repeats": len(values)}
            for name, values in times.items()}


def _tflite_runner(runner, image):
    prepared = runner.quantize_input(np.asarray(image, dtype=np.float32)[:1])
    return lambda: runner.invoke_prepared(prepared)


def _keras_runner(model, image):
    infer = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    single = tf.constant(np.asarray(image, dtype=np.float32)[:1])
    return lambda: infer(single).numpy()


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
    return interleaved_latency({"model": _tflite_runner(runner, image)}, repeats, warmup)["model"]["median_ms"]


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


def variant_runner(name, tflite, model, num_threads=1, logit_variants=LOGIT_VARIANTS):
    """The ``TFLiteModel`` of variant ``name`` of Keras ``model``: a variant in ``logit_variants`` gets the model's
    output activation after dequantization, the others give the model's outputs as they are."""
    activation = output_activation(model) if name in logit_variants else None
    return TFLiteModel(tflite, num_threads=num_threads, output_activation=activation)


def _distinct_scores(scores, task):
    """How many distinct scores the AUC is computed from: of the positive class for a binary task, the mean over
    the columns otherwise. Far fewer than the Keras model's means ties, and ties cost AUC."""
    if task == "binary":
        return int(np.unique(scores[:, -1]).size)
    return int(round(np.mean([np.unique(scores[:, k]).size for k in range(scores.shape[1])])))


def compare_quantized(model, variants, x_test, y_test, task, class_names=None, save_dir=None,
                      latency_repeats=300, num_threads=1, batch_size=64, logit_variants=LOGIT_VARIANTS):
    """Evaluate the Keras model and its TFLite variants on the same test set: one table row each.

    Args:
        model: the Keras 3 model the variants were converted from (the reference row "keras").
        variants: dict name -> ``.tflite`` bytes or path, e.g. {"float32": ..., "full_int8": ...}; a "float32"
            variant, if present, is the base of the size and speed ratios and of the AUC change.
        x_test: float32 images (N, ...) as the model takes them. y_test: labels as ``evaluate_predictions``
            takes them for ``task``.
        task, class_names: as for ``common.evaluate.evaluate_predictions``.
        save_dir: if given, each variant is written there as ``<name>.tflite`` and its path is in the row.
        latency_repeats, num_threads: single-image latency, every model timed in turn in the same rounds
            (``interleaved_latency``).
        batch_size: images per call when scoring the test set.
        logit_variants: variants whose ``.tflite`` ends at logits; their scores get the Keras model's output
            activation after dequantization.

    Returns:
        A list of dicts with keys variant, file_bytes, size_ratio_vs_float32, accuracy, auc, auc_change_vs_float32,
        auc_flag (the AUC moved by more than ``AUC_TOLERANCE``), distinct_scores, latency_ms (median),
        latency_p10_ms, latency_p90_ms, speedup_vs_float32, agreement_with_keras (share of samples whose
        predicted class is the Keras model's), max_abs_score_difference, output ("probabilities" or "logits +
        <activation> after dequantization") and path. The "keras" row has file_bytes and size_ratio_vs_float32
        None (a ``.keras`` file is not comparable) and is timed as TensorFlow at batch 1.
    """
    if not variants:
        raise ValueError("variants is empty; pass e.g. {'float32': convert_to_tflite(model, 'float32')}.")
    x_test = np.asarray(x_test, dtype=np.float32)
    keras_scores = np.asarray(model.predict(x_test, batch_size=batch_size, verbose=0), dtype=np.float32)
    keras_scores = keras_scores.reshape(len(x_test), -1)
    keras_labels = _predicted_labels(keras_scores, task)
    activation = output_activation(model)
    if save_dir is not None:
        save_dir = Path(save_dir)
        save_dir.mkdir(parents=True, exist_ok=True)
    model_bytes = {name: _load_flatbuffer(tflite) for name, tflite in variants.items()}
    runners = {name: variant_runner(name, content, model, num_threads, logit_variants)
               for name, content in model_bytes.items()}
    scores = {"keras": keras_scores, **{name: runner.predict(x_test, batch_size=batch_size).reshape(len(x_test), -1)
                                        for name, runner in runners.items()}}
    latency = interleaved_latency({"keras": _keras_runner(model, x_test),
                                   **{name: _tflite_runner(runner, x_test) for name, runner in runners.items()}},
                                  repeats=latency_repeats)
    metrics = {name: evaluate_predictions(y_test, values, task, class_names) for name, values in scores.items()}
    reference = "float32" if "float32" in scores else "keras"
    rows = []
    for name, values in scores.items():
        content = model_bytes.get(name)
        path = None
        if save_dir is not None and content is not None:
            path = save_dir / f"{name}.tflite"
            path.write_bytes(content)
        auc, reference_auc = metrics[name]["auc"], metrics[reference]["auc"]
        change = auc - reference_auc if auc is not None and reference_auc is not None else None
        speedup = (latency["float32"]["median_ms"] / latency[name]["median_ms"]) if "float32" in latency else None
        rows.append({
            "variant": name,
            "file_bytes": len(content) if content is not None else None,
            "size_ratio_vs_float32": (len(content) / len(model_bytes["float32"])
                                      if content is not None and "float32" in model_bytes else None),
            "accuracy": metrics[name]["accuracy"], "auc": auc, "auc_change_vs_float32": change,
            "auc_flag": change is not None and abs(change) > AUC_TOLERANCE,
            "distinct_scores": _distinct_scores(values, task),
            "latency_ms": latency[name]["median_ms"], "latency_p10_ms": latency[name]["p10_ms"],
            "latency_p90_ms": latency[name]["p90_ms"], "latency_repeats": latency[name]["repeats"],
            "speedup_vs_float32": speedup,
            "agreement_with_keras": _agreement(keras_labels, _predicted_labels(values, task)),
            "max_abs_score_difference": float(np.abs(values - keras_scores).max()),
            "output": (f"logits + {activation} after dequantization" if name in logit_variants and activation !=
                       "linear" else "probabilities" if activation != "linear" else "logits"),
            "path": str(path) if path is not None else None,
        })
    return rows


def quantization_notes(rows, flops_per_image=None):
    """Sentences for a report about a comparison table: how the integer models score, which variants lost AUC,
    and why a quantized variant may not be faster than float32."""
    notes = ["full-integer variants (full_int8, qat_int8) end at int8 logits; the softmax or sigmoid is computed "
             "in float32 after dequantization, so the scores keep the logits' 256 levels instead of collapsing "
             "onto a few int8 probabilities (see common.quantize)"]
    for row in rows:
        if row["auc_flag"]:
            notes.append(f"{row['variant']}: AUC {row['auc']:.4f} is {row['auc_change_vs_float32']:+.4f} from "
                         f"float32's: more than {AUC_TOLERANCE}; its scores take {row['distinct_scores']} "
                         "distinct values")
    slow = [row for row in rows if row["variant"] not in ("keras", "float32") and row["speedup_vs_float32"]
            and row["speedup_vs_float32"] < FASTER]
    if slow:
        size = f" ({flops_per_image / 1e6:.1f} MFLOPs per image)" if flops_per_image else ""
        listed = ", ".join(f"{row['variant']} {row['speedup_vs_float32']:.2f}x" for row in slow)
        notes.append(f"not faster than float32 here: {listed}. A model this small{size} spends much of an inference "
                     "in per-operator overhead rather than arithmetic, which int8 does not shorten; LiteRT also runs "
                     "float32 models through its XNNPACK delegate, whose float kernels are well optimised on x86; "
                     "and dynamic-range and float16 models dequantize weights at run time")
    return notes
