"""``make bench``: how fast each assignment's main models train in each precision on this machine.

    python -m assignments bench                       every assignment's main models (under 10 minutes on 2 cores)
    python -m assignments bench --assignments 5,6     some of them
    python -m assignments bench --rounds 5            more rounds, a tighter median

For every model, at the input size and batch size of its assignment's default configuration, the same
architecture is built twice: in float32, and in the 16-bit precision this machine computes natively (bfloat16
on a CPU with AMX-BF16 or AVX512-BF16 and on GPUs of compute capability 8.0 or newer, float16 on 7.x; none
elsewhere, and then only float32 is timed). Each is warmed up (its training step traced and run twice), then
the two are timed in turn, ``--rounds`` rounds of the same fixed number of training steps
(``train_on_batch`` on one batch of random inputs, so the input pipeline plays no part), the order swapped
every round so that a drift of the machine's speed hits both alike.

The table gives, per model: the median step time of each precision and the spread (the lowest to the highest
step), the speed-up (float32's median over the other's), the precision ``--precision auto`` picks for it and
its speed-up over float32 (1.00 where auto keeps float32: the same computation), and the training GFLOP/s:
the FLOPs of one training step counted by ``common.profiling.count_training_flops`` (the forward pass and the
gradients it needs, about 3x the forward FLOPs of a network trained whole) x the batch, over the median step.
The machine's own peak comes from a matrix-product and a convolution probe in each precision (``peak_gflops``),
so each row shows its share of that peak.

It writes ``runs/bench/<timestamp>/bench.md`` (the table, the machine and the date) and ``bench.json``.
"""

import argparse
import dataclasses
import datetime
import functools
import json
import statistics
import sys
import time
import types
from pathlib import Path

import numpy as np

from common.config import default_runs_dir

# The step time a round aims at, and the bounds on its steps: long enough to average a step's jitter out,
# short enough that every model fits in the bench's budget.
ROUND_SECONDS = 1.0
MIN_STEPS, MAX_STEPS = 3, 200


@dataclasses.dataclass
class BenchModel:
    """One model to time: its assignment, a name, a builder of the compiled model, its input and its batch."""

    assignment: int
    name: str
    build: object  # () -> compiled keras.Model
    input_shape: tuple
    batch_size: int
    target: object  # (batch_size, rng) -> training targets for one batch


def _classes(num_classes, one_hot=True, dtype=np.float32):
    def target(batch_size, rng):
        labels = rng.integers(num_classes, size=batch_size)
        return np.eye(num_classes, dtype=dtype)[labels] if one_hot else labels

    return target


def _masks(shape, num_classes):
    def target(batch_size, rng):
        return np.eye(num_classes, dtype=np.float32)[rng.integers(num_classes, size=(batch_size, *shape))]

    return target


def assignment1_models():
    from .a1_usps_fcnet.config import A1Config
    from .a1_usps_fcnet.model import build_fc_net, build_small_cnn, compile_classifier

    config, shape = A1Config(), (16, 16, 1)
    return [
        BenchModel(1, "fc_net 512x256", lambda: compile_classifier(build_fc_net(
            shape, 10, hidden_units=(512, 256), dropout_rate=0.4, augment=config.augment), 1e-3), shape, 128,
            _classes(10, one_hot=False)),
        BenchModel(1, "small_cnn", lambda: compile_classifier(build_small_cnn(
            shape, 10, filters=config.cnn_filters, dropout_rate=config.cnn_dropout, augment=config.augment),
            config.cnn_learning_rate), shape, config.cnn_batch_size, _classes(10, one_hot=False)),
    ]


def assignment2_models():
    from .a2_spect_staging.config import A2Config
    from .a2_spect_staging.model import FROM_SCRATCH_CNNS, build_model, compile_classifier, learning_rate_for

    config = A2Config()
    shape, classes = (config.crop_size, config.crop_size, 1), len(config.synthetic_counts)
    return [BenchModel(2, name, functools.partial(lambda name: compile_classifier(
        build_model(name, shape, classes, config), learning_rate_for(name, config)), name), shape,
        config.batch_size, _classes(classes)) for name in (*FROM_SCRATCH_CNNS, "vit") if name in config.models]


def assignment3_models():
    from .a3_mri_fusion.config import A3Config
    from .a3_mri_fusion.model import compile_classifier
    from .a3_mri_fusion.train import builders

    config = A3Config()
    shape = (config.depth, config.image_size, config.image_size, 1)
    return [BenchModel(3, name, functools.partial(lambda build: compile_classifier(build(), config.learning_rate),
                                                  build), shape, config.batch_size, _classes(2))
            for name, build in builders(config, shape, 2, config.depth // 2).items() if name in config.approaches]


def assignment4_models():
    from common.datasets.medmnist_info import medmnist_facts, medmnist_key

    from .a4_medmnist.config import A4Config
    from .a4_medmnist.data import TaskData
    from .a4_medmnist.train import builders

    config = A4Config()

    def stand_in(flag, size):
        """A TaskData of the real set's shapes and task, holding two blank cases (the builders read shapes)."""
        facts = medmnist_facts(flag)
        labels = np.zeros((2, facts.num_classes) if facts.task == "multi-label" else 2, np.int64)
        blank = np.zeros((2, *facts.image_shape(size)), np.float32)
        return TaskData(medmnist_key(flag, size), blank, labels, blank, labels, blank, labels, list(facts.labels),
                        facts.task, facts.python_class, Path(facts.file_name(size)), "", None)

    volumes = stand_in(config.volume_dataset, config.volume_size)
    images = stand_in(config.image_dataset, config.image_size)
    batch = {"p1_cnn3d": config.cnn3d_batch_size}
    return [BenchModel(4, name, build, (volumes if name.startswith("p1") else images).x_train.shape[1:],
                       batch.get(name, config.batch_size),
                       _classes((volumes if name.startswith("p1") else images).num_outputs))
            for name, build in builders(config, volumes, images).items()]


def assignment5_models():
    from .a5_brain_tumor_cnn.config import A5Config
    from .a5_brain_tumor_cnn.model import compile_classifier
    from .a5_brain_tumor_cnn.train import builders

    config = A5Config()
    shape, classes = (config.image_size, config.image_size, 1), 4
    data = types.SimpleNamespace(input_shape=shape, class_names=["glioma", "meningioma", "notumor", "pituitary"])
    return [BenchModel(5, name, functools.partial(lambda build: compile_classifier(build(), config.learning_rate),
                                                  build), shape, config.batch_size, _classes(classes, one_hot=False))
            for name, build in builders(config, data, None).items()]


def assignment6_models():
    from .a6_segmentation.config import A6Config
    from .a6_segmentation.model import compile_segmenter
    from .a6_segmentation.train import builders

    config = A6Config()
    data = types.SimpleNamespace(dimensions=2, class_names=["membrane", "cell"])
    shape = (config.crop_size, config.crop_size, 1)
    return [BenchModel(6, name, functools.partial(lambda build: compile_segmenter(
        build(), config.learning_rate, config.dice_weight), build), shape, config.batch_size,
        _masks(shape[:-1], 2)) for name, build in builders(config, data).items()]


def assignment7_models():
    from .a7_chexnet.config import A7Config
    from .a7_chexnet.model import compile_chexnet
    from .a7_chexnet.train import builders

    config = A7Config()
    shape = (config.size, config.size, 1)
    data = types.SimpleNamespace(input_shape=shape)
    return [BenchModel(7, name, functools.partial(lambda build: compile_chexnet(build(), config.learning_rate, 0.5,
                                                                                0.5), build), shape,
                       config.batch_size, _binary_column)
            for name, build in builders(config, data).items()]


def _binary_column(batch_size, rng):
    """Targets of a single sigmoid: float32 (batch, 1) of 0/1."""
    return rng.integers(2, size=(batch_size, 1)).astype(np.float32)


MODELS = {1: assignment1_models, 2: assignment2_models, 3: assignment3_models, 4: assignment4_models,
          5: assignment5_models, 6: assignment6_models, 7: assignment7_models}


# The peak probes: a square matrix product and a 3x3 convolution (batch, side, channels), the two kernels that do
# the suite's arithmetic; oneDNN runs the convolution a little faster than the product.
MATMUL_SIZE = 2048
CONV_PROBE = (16, 64, 128)


def _best_seconds(function, arguments, seconds):
    function(*arguments).numpy()  # trace, and let oneDNN pick its kernel
    best, deadline = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        function(*arguments).numpy()
        best = min(best, time.perf_counter() - start)
    return best


def peak_gflops(precision, seconds=1.5):
    """This machine's GFLOP/s in ``precision``: the better of a MATMUL_SIZE-square matrix product and a 3x3
    convolution of CONV_PROBE, each the best of repeated calls over about ``seconds`` (the ceiling a layer's
    arithmetic can reach here)."""
    import tensorflow as tf

    dtype = {"float32": tf.float32, "bfloat16": tf.bfloat16, "float16": tf.float16}[precision]

    def normal(shape, seed):
        return tf.cast(tf.random.stateless_normal(shape, seed=(seed, 0)), dtype)

    size = MATMUL_SIZE
    matmul = 2 * size ** 3 / _best_seconds(tf.function(tf.matmul), (normal((size, size), 1), normal((size, size), 2)),
                                           seconds)
    batch, side, channels = CONV_PROBE
    convolve = tf.function(lambda x, kernel: tf.nn.conv2d(x, kernel, 1, "SAME"))
    conv = 2 * batch * side * side * channels * channels * 9 / _best_seconds(
        convolve, (normal((batch, side, side, channels), 3), normal((3, 3, channels, channels), 4)), seconds)
    return max(matmul, conv) / 1e9


def _time_steps(model, x, y, steps):
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    return times


def bench_model(spec, precisions, rounds, choice):
    """Time ``spec`` in each of ``precisions``; returns its table row (see the module docstring)."""
    import tensorflow as tf

    from common.precision import build_for_training, choose_precision, model_kind
    from common.profiling import count_training_flops
    from common.reproducibility import set_seed

    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(size=(spec.batch_size, *spec.input_shape)).astype(np.float32))
    y = tf.constant(spec.target(spec.batch_size, rng))
    models = {}
    for precision in precisions:
        set_seed(0)
        models[precision], _ = build_for_training(spec.build, choose_precision(precision, choice.machine))
        for _ in range(2):  # trace the step and run it once more (oneDNN picks its kernels on first use)
            models[precision].train_on_batch(x, y)
    first = models[precisions[0]]
    probe = min(_time_steps(first, x, y, 3))  # the fastest of three: one slow step must not shorten the rounds
    steps = int(np.clip(round(ROUND_SECONDS / max(probe, 1e-4)), MIN_STEPS, MAX_STEPS))
    times = {precision: [] for precision in precisions}
    for round_index in range(rounds):
        order = precisions if round_index % 2 == 0 else precisions[::-1]
        for precision in order:
            times[precision] += _time_steps(models[precision], x, y, steps)
    kind = model_kind(first)
    flops = count_training_flops(first) * spec.batch_size
    auto, _ = choice.for_model(kind, flops / 1e9)
    row = {"assignment": spec.assignment, "model": spec.name, "kind": kind, "batch": spec.batch_size,
           "input": "x".join(map(str, spec.input_shape)), "steps": steps, "rounds": rounds,
           "train_gflop_per_step": flops / 1e9, "auto": auto}
    for precision in precisions:
        values = times[precision]
        median = statistics.median(values)
        row[precision] = {"median_ms": 1000 * median, "low_ms": 1000 * min(values), "high_ms": 1000 * max(values),
                          "gflops": flops / median / 1e9}
    base = row["float32"]["median_ms"]
    for precision in precisions[1:]:
        row[precision]["speedup"] = base / row[precision]["median_ms"]
    row["auto_speedup"] = 1.0 if auto == "float32" else row[auto]["speedup"]
    return row


def _timing(value):
    return f"{value['median_ms']:.1f} ({value['low_ms']:.1f}-{value['high_ms']:.1f})"


def _table(rows, precisions, peaks):
    sixteen = precisions[1] if len(precisions) > 1 else None
    header = ["assignment", "model", "kind", "input x batch", "GFLOP / step", "steps x rounds",
              "float32 ms / step (range)"]
    if sixteen:
        header += [f"{sixteen} ms / step (range)", f"{sixteen} speed-up"]
    header += ["auto picks", "auto speed-up", "GFLOP/s (auto)", "share of peak"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        auto = row["auto"]
        cells = [f"A{row['assignment']}", row["model"], row["kind"], f"{row['input']} x {row['batch']}",
                 f"{row['train_gflop_per_step']:.1f}", f"{row['steps']} x {row['rounds']}", _timing(row["float32"])]
        if sixteen:
            cells += [_timing(row[sixteen]), f"{row[sixteen]['speedup']:.2f}x"]
        gflops = row[auto]["gflops"]
        cells += [auto, f"{row['auto_speedup']:.2f}x", f"{gflops:.1f}", f"{gflops / peaks[auto]:.0%}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m assignments bench", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignments", default=",".join(map(str, MODELS)),
                        help="comma-separated assignment numbers (default: all)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per precision and model (default: 5)")
    parser.add_argument("--runs-dir", default=default_runs_dir(), help="where runs/bench/<timestamp>/ goes")
    options = parser.parse_args(argv)
    try:
        chosen = [int(part) for part in options.assignments.split(",") if part.strip()]
    except ValueError:
        parser.error(f"--assignments takes numbers such as 1,5,6, not {options.assignments!r}")
    unknown = [number for number in chosen if number not in MODELS]
    if unknown or not chosen:
        parser.error(f"--assignments takes numbers from {min(MODELS)} to {max(MODELS)}, not {options.assignments!r}")
    if options.rounds < 1:
        parser.error("--rounds must be at least 1")

    from common.precision import CPU_MIN_STEP_GFLOP, choose_precision
    from common.run import environment
    from common.tf_setup import import_tensorflow_quietly

    import_tensorflow_quietly()
    started = time.perf_counter()
    choice = choose_precision("auto")
    sixteen = [name for name, native in (("bfloat16", choice.machine.native_bfloat16),
                                         ("float16", choice.machine.native_float16 and
                                          not choice.machine.native_bfloat16)) if native]
    precisions = ["float32", *sixteen]
    print(f"[bench] {choice.machine.description}; timing {', '.join(precisions)}", flush=True)
    peaks = {precision: peak_gflops(precision) for precision in precisions}
    print("[bench] peak: " + ", ".join(f"{name} {value:.0f} GFLOP/s" for name, value in peaks.items()),
          flush=True)
    rows = []
    for number in chosen:
        for spec in MODELS[number]():
            row = bench_model(spec, precisions, options.rounds, choice)
            rows.append(row)
            print(f"[bench] A{number} {spec.name}: " + ", ".join(
                f"{name} {row[name]['median_ms']:.1f} ms" for name in precisions) +
                f"; auto {row['auto']} {row['auto_speedup']:.2f}x", flush=True)
    now = datetime.datetime.now()
    folder = Path(options.runs_dir) / "bench" / now.strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True)
    machine = environment()
    peak_line = ", ".join(f"{name} {value:.0f} GFLOP/s" for name, value in peaks.items())
    table = _table(rows, precisions, peaks)
    text = (f"# make bench, {now:%Y-%m-%d}\n\n{choice.machine.description}, {machine['cpus']} cores; TensorFlow "
            f"{machine['tensorflow']}, Keras {machine['keras']}. Peak (the better of a {MATMUL_SIZE}-square matrix "
            f"product and a 3x3 convolution of {CONV_PROBE[2]} channels): {peak_line}. "
            f"Bench time {time.perf_counter() - started:.0f} s.\n\n{table}\n\n"
            "Step times are medians over every timed step (range: fastest to slowest step). GFLOP/s: the counted "
            "FLOPs of a training step (dense, attention and convolution layers, forward and the gradients) x the "
            "batch, over the median step of the precision auto picks; the share is of that precision's peak. Auto "
            "picks float32 on a CPU for dense-only and depthwise models and for steps under "
            f"{CPU_MIN_STEP_GFLOP:g} GFLOP (common.precision).\n")
    (folder / "bench.md").write_text(text)
    (folder / "bench.json").write_text(json.dumps({"date": now.isoformat(timespec="seconds"),
                                                   "machine": choice.machine.description, "environment": machine,
                                                   "peaks_gflops": peaks, "rows": rows}, indent=2))
    print(f"\n{table}\n\n[bench] {time.perf_counter() - started:.0f} s; written to {folder / 'bench.md'}", flush=True)
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
