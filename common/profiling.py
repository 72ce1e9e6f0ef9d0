"""Model cost: parameter counts, FLOPs per image and inference latency.

FLOPs are counted analytically, layer by layer, as 2 floating-point operations per multiply-add of the
dense and convolution layers (any spatial rank, grouped and depthwise included) plus their bias additions.
Activations, normalisation, pooling and other element-wise work are not counted: for the networks in this
suite they are a small share, and leaving them out keeps the number comparable with the usual
"multiply-add" figures in papers. Latency is measured, not estimated.
"""

import time

import numpy as np

from common.tf_setup import import_tensorflow_quietly

tf = import_tensorflow_quietly()
import keras  # noqa: E402


def count_parameters(model):
    """(trainable, total) parameter counts."""
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    total = int(sum(np.prod(w.shape) for w in model.weights))
    return trainable, total


def _layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer


def count_flops(model):
    """Floating-point operations for one input of a built model (see the module docstring)."""
    flops = 0
    for layer in _layers(model):
        if isinstance(layer, keras.layers.Dense):
            in_features = layer.kernel.shape[0]
            # A Dense layer on a (…, features) input is applied to every leading position.
            positions = int(np.prod(layer.output.shape[1:-1])) if len(layer.output.shape) > 2 else 1
            flops += positions * (2 * in_features * layer.units + (layer.units if layer.use_bias else 0))
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            kernel = layer.kernel.shape  # (kh, kw, in_channels, multiplier)
            output_positions = int(np.prod(layer.output.shape[1:-1]))
            out_channels = layer.output.shape[-1]
            flops += output_positions * out_channels * (2 * int(np.prod(kernel[:-2])) + int(layer.use_bias))
        elif isinstance(layer, keras.layers.SeparableConv2D):
            depthwise = layer.depthwise_kernel.shape
            pointwise = layer.pointwise_kernel.shape
            output_positions = int(np.prod(layer.output.shape[1:-1]))
            in_channels = depthwise[-2] * depthwise[-1]
            flops += output_positions * in_channels * 2 * int(np.prod(depthwise[:-2]))
            flops += output_positions * (2 * pointwise[-2] * pointwise[-1] + pointwise[-1] * int(layer.use_bias))
        elif isinstance(layer, keras.layers.Conv1D | keras.layers.Conv2D | keras.layers.Conv3D):
            kernel = layer.kernel.shape  # (*spatial, in_channels / groups, filters)
            output_positions = int(np.prod(layer.output.shape[1:-1]))
            macs_per_output = int(np.prod(kernel[:-1]))
            flops += output_positions * layer.filters * (2 * macs_per_output + int(layer.use_bias))
    return int(flops)


def measure_latency(model, example, batch_size=256, repeats=50, warmup=5):
    """Median inference time, in milliseconds, per call of batch 1 and per image of a larger batch.

    Args:
        model: a Keras model.
        example: one input array of shape (1, ...) or more; its first item is used.
        batch_size: the batch size of the batched measurement.
        repeats: timed calls per measurement; the median is reported.

    Returns:
        {"batch1_ms": ..., "batched_ms_per_image": ..., "batch_size": ...}
    """
    infer = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    single = tf.constant(np.asarray(example[:1], dtype=np.float32))
    batch = tf.constant(np.repeat(np.asarray(example[:1], dtype=np.float32), batch_size, axis=0))

    def median_ms(x, count):
        for _ in range(warmup):
            infer(x).numpy()
        times = []
        for _ in range(count):
            start = time.perf_counter()
            infer(x).numpy()
            times.append(time.perf_counter() - start)
        return 1000.0 * float(np.median(times))

    return {
        "batch1_ms": median_ms(single, repeats),
        "batched_ms_per_image": median_ms(batch, max(5, repeats // 5)) / batch_size,
        "batch_size": batch_size,
    }
