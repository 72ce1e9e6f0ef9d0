"""Problem 2-D: the chosen custom CNN as TFLite / LiteRT models, each scored on the whole test split.

Variants: float32 (the reference conversion), dynamic range (int8 weights), float16 (half-size weights),
full integer (int8 weights and activations, an int8 input and int8 logits, the softmax or sigmoid computed in
float32 after dequantization so that the scores keep their ranking; activation ranges calibrated on training
images) and quantization-aware training (QAT: a few epochs of fine-tuning with simulated int8 rounding, then the
same full-integer conversion). QAT runs in its own process on a tf_keras twin of the network (``common.qat``), because
tensorflow-model-optimization needs Keras 2; this process never imports it.

The QAT child starts as soon as the custom CNN is chosen (``start_qat``) and works while this process trains
the other models; ``quantize_model`` waits for it before any latency is measured, so the timings never share
the CPU with it. Each variant's test predictions are saved in ``quantization/predictions/<variant>_test.npz``,
so that the grader can re-score the table, and its ``.tflite`` file in ``quantization/``.
"""

import concurrent.futures
import sys

import numpy as np

from common.atomic import save_npz
from common.profiling import count_flops
from common.qat import run_qat, save_qat_data
from common.quantize import (
    MODES,
    compare_quantized,
    convert_to_tflite,
    quantization_notes,
    tensor_dtypes,
    variant_runner,
)

from .model import custom_cnn_kwargs

BUILDER = "common.models.custom_cnn:build_custom_cnn"


def start_qat(trained, config, run_folder):
    """Start quantization-aware training of ``trained`` (a saved custom CNN) in a child process, in the
    background; returns a future for ``quantize_model``, or None when QAT is off."""
    if not config.qat:
        return None
    data = trained.data
    folder = run_folder.path / "quantization"
    folder.mkdir(exist_ok=True)
    print(f"[quantize] quantization-aware training of {trained.name} ({config.qat_epochs} epoch(s)) started in a "
          "child process", flush=True)
    data_file = save_qat_data(folder / "qat_data.npz", data.x_train, data.y_train, data.x_val, data.y_val,
                              multi_label=data.task == "multi-label")
    kwargs = custom_cnn_kwargs(data.x_train.shape[1:], data.num_outputs, data.task, config.cnn_filters,
                               config.cnn_dense_units, config.cnn_dropout_rate)

    def work():
        try:
            return run_qat(trained.model_file, BUILDER, kwargs, data_file, folder / "qat_int8.tflite",
                           epochs=config.qat_epochs, batch_size=config.batch_size,
                           learning_rate=config.qat_learning_rate, seed=config.seed)
        finally:
            data_file.unlink(missing_ok=True)  # a copy of the training images; not part of the results

    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="qat")
    future = executor.submit(work)
    executor.shutdown(wait=False)
    return future


def convert_variants(model, calibration_images, work_dir, representative_count):
    """The LiteRT flat buffers of ``model``: {mode: .tflite bytes} for every mode of ``common.quantize.MODES``
    (float32, dynamic range, float16, full int8)."""
    # TODO: one common.quantize.convert_to_tflite(model, mode, ...) call per mode in MODES. The full-integer
    #       mode calibrates its activation ranges: pass representative_images=calibration_images and
    #       representative_count; pass work_dir for the converter's files. Return {mode: the bytes it returns}.
    # BEGIN SOLUTION
    return {mode: convert_to_tflite(model, mode, representative_images=calibration_images, work_dir=work_dir,
                                    representative_count=representative_count) for mode in MODES}
    # END SOLUTION


def quantize_model(trained, config, run_folder, qat_future=None):
    """Convert, run and time every variant of ``trained`` (a custom CNN); ``qat_future`` is ``start_qat``'s.

    Returns the JSON-ready summary {"model", "dataset", "split", "task", "rows", "notes"} that metrics.json and
    the report hold.
    """
    data, model = trained.data, trained.fit.model
    folder = run_folder.path / "quantization"
    folder.mkdir(exist_ok=True)
    print(f"[quantize] converting {trained.name} to TFLite: {', '.join(MODES)}", flush=True)
    variants = convert_variants(model, data.x_train, folder, config.representative_count)
    notes = [f"full_int8 calibrated on {min(config.representative_count, len(data.x_train))} training images"]
    if qat_future is not None:
        try:
            result = qat_future.result()
        except RuntimeError as error:  # a failed child must not cost the rest of the run; the table says so
            print(f"[quantize] QAT failed: {error}", file=sys.stderr)
            notes.append(f"QAT failed: {str(error).splitlines()[0]}")
        else:
            variants["qat_int8"] = (folder / "qat_int8.tflite").read_bytes()
            notes.append(f"QAT: {config.qat_epochs} epoch(s) at learning rate {config.qat_learning_rate:g}, "
                         f"{result['seconds']:.0f} s in the child process; Keras 3 vs tf_keras twin before QAT: "
                         f"max |difference| {result['twin_max_abs_difference']:.1e}")
    print("[quantize] scoring every variant with LiteRT on the test split; latency of every variant in turns "
          "(1 thread)", flush=True)
    rows = compare_quantized(model, variants, data.x_test, data.y_test, data.task, data.class_names, save_dir=folder,
                             latency_repeats=config.latency_repeats, num_threads=1)
    notes += quantization_notes(rows, count_flops(model))
    prediction_folder = folder / "predictions"
    prediction_folder.mkdir(exist_ok=True)
    keras_scores = np.asarray(model.predict(data.x_test, batch_size=config.batch_size, verbose=0), np.float32)
    for row in rows:
        name = row["variant"]
        scores = keras_scores if name == "keras" else variant_runner(name, variants[name], model).predict(data.x_test)
        path = prediction_folder / f"{name}_test.npz"
        save_npz(path, y_true=data.y_test, y_score=scores.astype(np.float32),
                 class_names=np.asarray(data.class_names, dtype=str))
        row["predictions_file"] = str(path.relative_to(run_folder.path))
        if row["path"]:
            row["path"] = str((folder / f"{name}.tflite").relative_to(run_folder.path))
        if name != "keras":
            row["tensor_dtypes"] = tensor_dtypes(variants[name])
    return {"model": trained.name, "model_file": str(trained.model_file.relative_to(run_folder.path)),
            "dataset": data.dataset, "split": data.test_split, "task": data.task, "rows": rows, "notes": notes}
