"""Quantization-aware training (QAT) of a Keras 3 classifier, run in a child process.

QAT (Jacob et al., CVPR 2018) fine-tunes a trained model with simulated int8 rounding ("fake quantization")
of its weights and activations, so it learns to tolerate the rounding before the model is converted to an
int8 TFLite model. The TensorFlow tool for it, tensorflow-model-optimization (tfmot) 0.8, works only on
tf_keras (Keras 2) models, and importing it switches the *whole process* to legacy Keras
(``TF_USE_LEGACY_KERAS=1``). The suite trains in Keras 3, so QAT runs in its own process:

1. The caller (a Keras 3 process) saves the trained model as ``.keras`` and the data as ``.npz``
   (``save_qat_data``), then calls ``run_qat``, which starts ``python -m common.qat``.
2. The child sets ``TF_USE_LEGACY_KERAS=1`` before TensorFlow is imported, loads the ``.keras`` file with
   Keras 3 (which still imports and works alongside tf_keras there), rebuilds the same architecture in
   tf_keras with the same builder function (``keras_module=tf_keras``), copies the weights layer by layer by
   name and checks that both models give the same outputs.
3. It wraps the twin with ``tfmot.quantization.keras.quantize_model``, fine-tunes it for a few epochs with a
   small learning rate, and converts it with ``TFLiteConverter.from_keras_model``: int8 weights and
   activations, **int8 input tensor and int8 logits** (``common.quantize.TFLiteModel`` quantizes float32 images
   for it, dequantizes the logits and applies the softmax or sigmoid, as for the post-training full-int8
   model: int8 probabilities would collapse the scores of a confident model onto a few levels). The twin is
   built ending at the logits (``output_activation="linear"``) and fine-tuned with the matching loss on logits.
4. It writes the ``.tflite`` and a JSON result next to it, which ``run_qat`` reads back.

The builder must accept ``keras_module`` and ``output_activation`` ("linear" for logits) and name every layer
explicitly, as ``common.models.custom_cnn.build_custom_cnn`` does, and use only layers tfmot's default 8-bit
scheme knows (no augmentation layers, no nested models).

Command line (normally started by ``run_qat``)::

    python -m common.qat --model trained.keras --builder common.models.custom_cnn:build_custom_cnn \\
        --builder-kwargs '{"input_shape": [28, 28, 1], "num_classes": 2}' --data qat_data.npz \\
        --out qat_int8.tflite --epochs 2
"""

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DATA_KEYS = ("x_train", "y_train", "x_val", "y_val")
# The largest |Keras 3 output - tf_keras twin output| accepted after copying the weights. Both run the same
# float32 operations, so anything beyond round-off means a weight went to the wrong place.
TWIN_TOLERANCE = 1e-4
STDERR_TAIL_LINES = 40


def save_qat_data(path, x_train, y_train, x_val, y_val, multi_label=False):
    """Write the ``.npz`` that ``run_qat`` takes: float32 images (N, H, W, C) and int64 labels (N,).

    Use training data for fine-tuning and a validation split (not the test set) for monitoring. With
    ``multi_label=True`` the labels are (N, L) of 0/1 for a sigmoid model, and the child fine-tunes with binary
    cross-entropy instead of sparse categorical cross-entropy.
    """
    arrays = {"x_train": np.asarray(x_train, np.float32), "y_train": np.asarray(y_train).astype(np.int64),
              "x_val": np.asarray(x_val, np.float32), "y_val": np.asarray(y_val).astype(np.int64)}
    label_rank, wanted = (2, "0/1 label rows (N, L)") if multi_label else (1, "integer class labels (N,)")
    for prefix in ("train", "val"):
        if len(arrays[f"x_{prefix}"]) != len(arrays[f"y_{prefix}"]) or arrays[f"y_{prefix}"].ndim != label_rank:
            raise ValueError(f"x_{prefix} and y_{prefix} must have the same length and y_{prefix} must be {wanted}; "
                             f"got {arrays[f'x_{prefix}'].shape} and {arrays[f'y_{prefix}'].shape}."
                             + ("" if multi_label else " For one-hot labels pass y.argmax(axis=1); for multi-label "
                                "data pass multi_label=True."))
    path = Path(path)
    np.savez(path, **arrays)
    return path


def _builder_import_path(builder):
    """'package.module:function' for a builder given as that string or as the function itself."""
    if isinstance(builder, str):
        if builder.count(":") != 1:
            raise ValueError(f"builder must be 'package.module:function', got {builder!r}.")
        return builder
    module, qualified_name = getattr(builder, "__module__", None), getattr(builder, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualified_name or "." in qualified_name:
        raise ValueError(f"the QAT child process must import the builder {builder!r}; define it at the top level "
                         "of an importable module (not __main__, not a lambda or nested function) or pass "
                         "'package.module:function'.")
    return f"{module}:{qualified_name}"


def _import_builder(import_path):
    module_name, function_name = import_path.split(":")
    function = getattr(importlib.import_module(module_name), function_name, None)
    if not callable(function):
        raise ValueError(f"{import_path}: module {module_name} has no function {function_name}.")
    return function


def run_qat(model_path, builder, builder_kwargs, train_npz, out_path, epochs=2, batch_size=32,
            learning_rate=1e-4, seed=0, timeout=1800):
    """Quantization-aware fine-tuning of a saved Keras 3 model, in a child process; see the module docstring.

    Args:
        model_path: the trained Keras 3 model, saved with ``model.save("....keras")``.
        builder: the builder that made it, as 'package.module:function' or the function itself; it is called
            as ``builder(**builder_kwargs, keras_module=tf_keras)`` in the child.
        builder_kwargs: JSON-serialisable keyword arguments that rebuild the same architecture
            (e.g. {"input_shape": [28, 28, 1], "num_classes": 2, "filters": [32, 64]}).
        train_npz: an ``.npz`` written by ``save_qat_data`` (x_train, y_train, x_val, y_val).
        out_path: where the QAT int8 ``.tflite`` goes; the result JSON is written next to it (``.json``).
        epochs, batch_size, learning_rate: fine-tuning; a small learning rate (1e-4 to 1e-5) keeps the
            trained weights and only adapts them to the rounding.
        seed: random seed of the child's fine-tuning.
        timeout: seconds before the child is stopped.

    Returns:
        A dict: tflite_path, tflite_bytes, input_dtype and output_dtype of the ``.tflite``, history (metric name ->
        one float per epoch), twin_max_abs_difference (Keras 3 vs tf_keras twin before QAT), seconds (the
        child's work) and wall_seconds (including the child's start-up).

    Raises:
        RuntimeError: if the child fails or times out, with the tail of its stderr.
    """
    for label, path in (("model_path", model_path), ("train_npz", train_npz)):
        if not Path(path).is_file():
            raise ValueError(f"{label} {path} does not exist; save the model with model.save('....keras') and the "
                             "data with common.qat.save_qat_data first.")
    if "keras_module" in builder_kwargs:
        raise ValueError("builder_kwargs must not contain keras_module: the child passes tf_keras itself.")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    result_path = out_path.with_suffix(".json")
    result_path.unlink(missing_ok=True)
    command = [sys.executable, "-m", "common.qat", "--model", str(model_path),
               "--builder", _builder_import_path(builder), "--builder-kwargs", json.dumps(builder_kwargs),
               "--data", str(train_npz), "--out", str(out_path), "--result", str(result_path),
               "--epochs", str(int(epochs)), "--batch-size", str(int(batch_size)),
               "--learning-rate", str(float(learning_rate)), "--seed", str(int(seed))]
    environment = dict(os.environ)
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The child must find `common` (and the builder's package) wherever the caller's working folder is.
    package_root = str(Path(__file__).resolve().parent.parent)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, environment.get("PYTHONPATH")]))
    started = time.perf_counter()
    try:
        completed = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(f"QAT child process did not finish within {timeout} s; use fewer epochs or images, or "
                           f"a larger timeout. Last stderr lines:\n{_tail(error.stderr)}") from error
    if completed.returncode != 0 or not result_path.is_file():
        raise RuntimeError(f"QAT child process failed (exit code {completed.returncode}): "
                           f"{' '.join(command)}\nLast stderr lines:\n{_tail(completed.stderr)}")
    result = json.loads(result_path.read_text())
    result["wall_seconds"] = time.perf_counter() - started
    return result


def _tail(text):
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return "\n".join((text or "").splitlines()[-STDERR_TAIL_LINES:])


def copy_weights_by_layer_name(source_model, target_model):
    """Copy every weighted layer's weights from ``source_model`` to the layer of the same name in
    ``target_model`` (the two may be Keras 3 and tf_keras). Raises ValueError listing every layer that is
    missing on either side or whose weight shapes differ; copies nothing in that case."""
    source = {layer.name: layer.get_weights() for layer in source_model.layers if layer.get_weights()}
    target = {layer.name: layer for layer in target_model.layers if layer.get_weights()}
    problems = [f"{name}: only in the trained model" for name in source.keys() - target.keys()]
    problems += [f"{name}: only in the rebuilt model" for name in target.keys() - source.keys()]
    for name in source.keys() & target.keys():
        source_shapes = [tuple(array.shape) for array in source[name]]
        target_shapes = [tuple(array.shape) for array in target[name].get_weights()]
        if source_shapes != target_shapes:
            problems.append(f"{name}: weight shapes {source_shapes} (trained) vs {target_shapes} (rebuilt)")
    if problems:
        raise ValueError("the rebuilt model does not match the trained one; pass the builder_kwargs the model was "
                         "built with, and name every layer in the builder:\n  " + "\n  ".join(sorted(problems)))
    for name, arrays in source.items():
        target[name].set_weights(arrays)


def _load_data(path):
    with np.load(path) as data:
        missing = [key for key in DATA_KEYS if key not in data]
        if missing:
            raise ValueError(f"{path} lacks {missing}; write it with common.qat.save_qat_data.")
        return {key: data[key] for key in DATA_KEYS}


def _parse_arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m common.qat", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="the trained Keras 3 model (.keras)")
    parser.add_argument("--builder", required=True, help="package.module:function that built it")
    parser.add_argument("--builder-kwargs", default="{}", help="JSON keyword arguments of the builder")
    parser.add_argument("--data", required=True, help=".npz with x_train, y_train, x_val, y_val")
    parser.add_argument("--out", required=True, help="output .tflite path")
    parser.add_argument("--result", help="output JSON path (default: --out with .json)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    """The child process: QAT fine-tuning and int8 conversion with tf_keras and tfmot (see module docstring)."""
    arguments = _parse_arguments(argv)
    started = time.perf_counter()
    # tfmot needs tf.keras to be tf_keras; the switch must happen before TensorFlow is first imported.
    if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise RuntimeError("common.qat.main must run in a fresh process (use run_qat): TensorFlow was already "
                           "imported with Keras 3 as tf.keras.")
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    from common.tf_setup import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    import tensorflow_model_optimization as tfmot
    import tf_keras

    from common.precision import load_model
    from common.quantize import apply_activation

    builder = _import_builder(arguments.builder)
    builder_kwargs = json.loads(arguments.builder_kwargs)
    data = _load_data(arguments.data)
    tf_keras.utils.set_random_seed(arguments.seed)

    # Keras 3 is a separate package; it still imports and loads .keras files in a legacy-Keras process. The model
    # computes in float32 whatever precision it trained in, as the twin does (common.precision).
    trained = load_model(arguments.model)
    expected_shape = tuple(trained.input_shape[1:])
    for key in ("x_train", "x_val"):
        if data[key].shape[1:] != expected_shape:
            raise ValueError(f"{key} has images of shape {data[key].shape[1:]}, but the model takes {expected_shape}; "
                             "save the same preprocessed images the model was trained on.")
    # The twin ends at the logits: the integer model's output (see the module docstring).
    activation = builder_kwargs.get("output_activation", "softmax")
    twin = builder(**{**builder_kwargs, "output_activation": "linear"}, keras_module=tf_keras)
    copy_weights_by_layer_name(trained, twin)
    check_images = data["x_val"][:32]
    twin_scores = apply_activation(twin(check_images, training=False).numpy(), activation)
    twin_difference = float(np.abs(np.asarray(trained(check_images, training=False)) - twin_scores).max())
    if not twin_difference <= TWIN_TOLERANCE:
        raise ValueError(f"the tf_keras twin's outputs differ from the trained model's by {twin_difference:.3g} "
                         f"(> {TWIN_TOLERANCE}) although all weights were copied; the builder must build the same "
                         "computation for both Keras versions.")

    qat_model = tfmot.quantization.keras.quantize_model(twin)
    # Labels (N, L) of 0/1 come from a multi-label (sigmoid) model; class indices (N,) from a softmax one.
    multi_label = data["y_train"].ndim == 2
    loss = (tf_keras.losses.BinaryCrossentropy(from_logits=True) if multi_label
            else tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    # On logits, a label is predicted present above 0 (probability 0.5); the arg-max is the same either way.
    accuracy = (tf_keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0) if multi_label
                else tf_keras.metrics.SparseCategoricalAccuracy(name="accuracy"))
    qat_model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate=arguments.learning_rate), loss=loss,
                      metrics=[accuracy])
    history = qat_model.fit(data["x_train"], data["y_train"], validation_data=(data["x_val"], data["y_val"]),
                            epochs=arguments.epochs, batch_size=arguments.batch_size, shuffle=True, verbose=2)

    converter = tf.lite.TFLiteConverter.from_keras_model(qat_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    # The fake-quantization nodes carry every range, so no representative data set is needed, and every
    # operation becomes int8. supported_ops=[TFLITE_BUILTINS_INT8] is left unset: with it, TF 2.21 asks for a
    # representative data set before it has seen the fake-quantization nodes. An int8 input and int8 logits
    # make the model usable on integer-only hardware.
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    tflite_bytes = converter.convert()
    out_path = Path(arguments.out)
    out_path.write_bytes(tflite_bytes)

    result = {
        "tflite_path": str(out_path),
        "tflite_bytes": len(tflite_bytes),
        "input_dtype": "int8",
        "output_dtype": "int8",
        "output": "logits",
        "output_activation": activation,
        "history": {name: [float(value) for value in values] for name, values in history.history.items()},
        "twin_max_abs_difference": twin_difference,
        "epochs": arguments.epochs,
        "learning_rate": arguments.learning_rate,
        "seconds": time.perf_counter() - started,
    }
    result_path = Path(arguments.result) if arguments.result else out_path.with_suffix(".json")
    result_path.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
