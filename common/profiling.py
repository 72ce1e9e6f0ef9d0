"""Model cost: parameter counts, FLOPs per image and inference latency.

FLOPs are counted analytically, layer by layer, as 2 floating-point operations per multiply-add of the
dense, attention and convolution layers (any spatial rank, grouped, depthwise and transposed included) plus
their bias additions.
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


def layer_flops(layer):
    """Floating-point operations of one layer for one input (0 for a layer the count leaves out)."""
    if isinstance(layer, keras.layers.Dense):
        in_features = layer.kernel.shape[0]
        # A Dense layer on a (…, features) input is applied to every leading position.
        positions = int(np.prod(layer.output.shape[1:-1])) if len(layer.output.shape) > 2 else 1
        return positions * (2 * in_features * layer.units + (layer.units if layer.use_bias else 0))
    if isinstance(layer, keras.layers.MultiHeadAttention):
        # The four projections (query, key, value, output) and the two products of the attention itself
        # (queries x keys, weights x values), for self-attention over the output's tokens.
        tokens = int(np.prod(layer.output.shape[1:-1]))
        model_dim, heads, key_dim = layer._query_dense.kernel.shape
        value_dim = layer._value_dense.kernel.shape[-1]
        projections = 2 * tokens * model_dim * heads * (2 * key_dim + 2 * value_dim)
        return projections + 2 * heads * tokens * tokens * (key_dim + value_dim)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kernel = layer.kernel.shape  # (kh, kw, in_channels, multiplier)
        output_positions = int(np.prod(layer.output.shape[1:-1]))
        out_channels = layer.output.shape[-1]
        return output_positions * out_channels * (2 * int(np.prod(kernel[:-2])) + int(layer.use_bias))
    if isinstance(layer, keras.layers.SeparableConv2D):
        depthwise = layer.depthwise_kernel.shape
        pointwise = layer.pointwise_kernel.shape
        output_positions = int(np.prod(layer.output.shape[1:-1]))
        in_channels = depthwise[-2] * depthwise[-1]
        return (output_positions * in_channels * 2 * int(np.prod(depthwise[:-2])) +
                output_positions * (2 * pointwise[-2] * pointwise[-1] + pointwise[-1] * int(layer.use_bias)))
    if isinstance(layer, keras.layers.Conv1DTranspose | keras.layers.Conv2DTranspose | keras.layers.Conv3DTranspose):
        # Every input position multiplies the whole kernel (*spatial, filters, in_channels) once.
        input_positions = int(np.prod(layer.input.shape[1:-1]))
        return (input_positions * 2 * int(np.prod(layer.kernel.shape)) +
                int(np.prod(layer.output.shape[1:-1])) * layer.filters * int(layer.use_bias))
    if isinstance(layer, keras.layers.Conv1D | keras.layers.Conv2D | keras.layers.Conv3D):
        kernel = layer.kernel.shape  # (*spatial, in_channels / groups, filters)
        output_positions = int(np.prod(layer.output.shape[1:-1]))
        return output_positions * layer.filters * (2 * int(np.prod(kernel[:-1])) + int(layer.use_bias))
    return 0


def count_flops(model):
    """Floating-point operations for one input of a built model (see the module docstring)."""
    return int(sum(layer_flops(layer) for layer in _layers(model)))


def count_training_flops(model):
    """Floating-point operations of one training step per input: the forward pass, then for the backward pass
    the same again for the weight gradients of every trainable layer and for the input gradients of every layer
    after the first trainable one (a frozen backbone below the trained head needs neither). About 3x
    ``count_flops`` for a network trained whole."""
    total, seen_trainable = 0, False
    for layer in _layers(model):
        flops = layer_flops(layer)
        trainable = layer.trainable and bool(layer.trainable_weights)
        total += flops + (flops if trainable else 0) + (flops if seen_trainable else 0)
        seen_trainable = seen_trainable or trainable
    return int(total)


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
