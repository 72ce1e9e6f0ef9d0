"""The run's float precision (common.precision): what ``auto`` picks on which machine and model, and that a model
trained in bfloat16 trains, saves, reloads, predicts and is re-run exactly as a float32 one, also in a fresh process
that forces float32."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from common import precision as precision_module
from common.config import PRECISIONS, ConfigError, parse_config
from common.precision import (
    CPU_MIN_STEP_GFLOP,
    Machine,
    build_for_training,
    choose_precision,
    compute_precision,
    detect_machine,
    load_model,
    model_kind,
    to_float32,
    use_precision,
)
from common.reproducibility import set_seed
from common.train import fit_model, predict_scores

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]
BF16_CPU = Machine("cpu", "CPU test with avx512_bf16", native_bfloat16=True, native_float16=False)
PLAIN_CPU = Machine("cpu", "CPU test without bfloat16", native_bfloat16=False, native_float16=False)


def _conv_net(output_dtype="float32"):
    inputs = keras.Input((12, 12, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Dropout(0.2)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(2, activation="softmax", dtype=output_dtype)(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _dense_net():
    inputs = keras.Input((6,))
    x = keras.layers.Dense(16, activation="relu")(inputs)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(2, activation="softmax", dtype="float32")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def _toy_images(count=160, seed=0):
    """Horizontal stripes (class 1) or vertical stripes (class 0), with noise: float32 (N, 12, 12, 1), int64 (N,)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    images = rng.normal(0.0, 0.2, (count, 12, 12, 1)).astype(np.float32)
    for image, label in zip(images, labels):
        if label:
            image[::2] += 1.0
        else:
            image[:, ::2] += 1.0
    return images, labels.astype(np.int64)


@pytest.fixture(autouse=True)
def float32_after():
    yield
    use_precision("float32")


@pytest.mark.parametrize("machine, expected", [
    (BF16_CPU, "bfloat16"),
    (PLAIN_CPU, "float32"),
    (Machine("gpu", "GPU 7.5", False, True, (7, 5)), "float16"),
    (Machine("gpu", "GPU 8.0", True, True, (8, 0)), "bfloat16"),
    (Machine("gpu", "GPU 6.1", False, False, (6, 1)), "float32"),
])
def test_auto_picks_the_machines_native_16_bit_type(machine, expected):
    assert choose_precision("auto", machine).precision == expected


def test_machine_detection_reads_the_cpu_flags_and_gpu_capabilities():
    assert detect_machine(["fma", "avx512_bf16"], []).native_bfloat16
    assert detect_machine(["amx_bf16"], []).native_bfloat16
    assert not detect_machine(["avx2", "avx512f"], []).native_bfloat16
    gpus = detect_machine([], [(8, 6), (7, 0)])  # the slowest GPU decides
    assert (gpus.device, gpus.gpu_capability, gpus.native_bfloat16, gpus.native_float16) == ("gpu", (7, 0), False,
                                                                                              True)


def test_auto_keeps_dense_only_models_in_float32_on_a_cpu_and_asked_for_precisions_win():
    auto = choose_precision("auto", BF16_CPU)
    assert auto.for_model("dense")[0] == "float32" and "measured slower" in auto.for_model("dense")[1]
    assert auto.for_model("depthwise")[0] == "float32"
    assert auto.for_model("conv2d")[0] == auto.for_model("conv3d")[0] == "bfloat16"
    assert auto.for_model("conv2d", step_gflop=12.0)[0] == "bfloat16"
    small = auto.for_model("conv2d", step_gflop=CPU_MIN_STEP_GFLOP / 2)
    assert small[0] == "float32" and "small training step" in small[1]
    assert choose_precision("bfloat16", BF16_CPU).for_model("conv2d", step_gflop=0.1)[0] == "bfloat16"
    assert choose_precision("bfloat16", BF16_CPU).for_model("dense")[0] == "bfloat16"
    emulated = choose_precision("bfloat16", PLAIN_CPU)
    assert emulated.precision == "bfloat16" and "emulated" in emulated.reason
    gpu = choose_precision("auto", Machine("gpu", "GPU 8.0", True, True, (8, 0)))
    assert gpu.for_model("dense", step_gflop=0.1)[0] == "bfloat16"  # the exceptions were measured on CPUs only
    with pytest.raises(ValueError, match="--precision must be one of"):
        choose_precision("int8", BF16_CPU)


def test_model_kinds():
    assert model_kind(_dense_net()) == "dense"
    assert model_kind(_conv_net()) == "conv2d"
    inputs = keras.Input((8, 8, 8, 1))
    assert model_kind(keras.Model(inputs, keras.layers.Conv3DTranspose(2, 2)(inputs))) == "conv3d"
    inputs = keras.Input((8, 8, 3))
    separable = keras.layers.Conv2D(4, 1)(keras.layers.DepthwiseConv2D(3)(inputs))
    assert model_kind(keras.Model(inputs, separable)) == "depthwise"


def test_build_for_training_uses_the_choice_and_keeps_outputs_float32():
    choice = choose_precision("auto", BF16_CPU)
    model, record = build_for_training(_conv_net, choice)
    assert (record.precision, record.kind) == ("bfloat16", "conv2d")
    assert compute_precision(model) == "bfloat16" and model.output.dtype == "float32"
    assert keras.config.dtype_policy().name == "float32", "the global policy must come back"
    with pytest.raises(ValueError, match='dtype="float32"'):
        build_for_training(lambda: _conv_net(output_dtype=None), choice)


def test_build_for_training_weighs_the_training_step_of_the_batch():
    auto = choose_precision("auto", BF16_CPU)
    # The toy conv net: 12x12 positions x 8 filters x 9 taps, forward and weight gradients (its first layer
    # needs no input gradient), plus its small classifier: far under the threshold at any ordinary batch.
    model, record = build_for_training(_conv_net, auto, batch_size=16)
    assert record.precision == "float32" and compute_precision(model) == "float32"
    assert record.step_gflop == pytest.approx(16 * (2 * 2 * 144 * 8 * 9 + 3 * (2 * 8 * 2 + 2)) / 1e9, abs=0.01)
    large_batch = int(CPU_MIN_STEP_GFLOP * 1e9 / (2 * 2 * 144 * 8 * 9)) + 1
    model, record = build_for_training(_conv_net, auto, batch_size=large_batch)
    assert record.precision == "bfloat16" and compute_precision(model) == "bfloat16"
    assert build_for_training(_conv_net, auto)[1].step_gflop is None  # no batch: the kind alone decides


def test_a_dense_model_under_auto_is_exactly_a_float32_build():
    set_seed(3)
    auto_model, record = build_for_training(_dense_net, choose_precision("auto", BF16_CPU))
    set_seed(3)
    float32_model, _ = build_for_training(_dense_net, choose_precision("float32", BF16_CPU))
    assert record.precision == "float32" and compute_precision(auto_model) == "float32"
    for ours, theirs in zip(auto_model.variables, float32_model.variables):  # seed generators included
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    x = np.random.default_rng(0).normal(size=(64, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    for model in (auto_model, float32_model):
        set_seed(5)
        model.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
    np.testing.assert_array_equal(auto_model.predict(x, verbose=0), float32_model.predict(x, verbose=0))


def test_a_bfloat16_fit_saves_reloads_predicts_and_reruns_in_float32(tmp_path):
    from common.rerun import ModelRunner

    x, y = _toy_images()
    use_precision("bfloat16")
    set_seed(0)
    fit = fit_model(_conv_net, (x[:120], y[:120]), (x[120:], y[120:]), tmp_path / "toy", epochs=4, batch_size=16,
                    monitor="val_accuracy", patience=4, verbose=0)
    assert fit.precision["precision"] == "bfloat16"
    assert json.loads((fit.folder / "done.json").read_text())["precision"]["precision"] == "bfloat16"
    assert fit.best_value >= 0.9, "the toy task was not learned in bfloat16"
    # The returned and the saved model compute in float32: its scores are a float32 model's.
    assert compute_precision(fit.model) == "float32"
    scores = predict_scores(fit.model, x[120:])
    assert scores.dtype == np.float32
    reloaded = keras.saving.load_model(fit.folder / "best.keras", compile=False)
    assert compute_precision(reloaded) == "float32"
    np.testing.assert_array_equal(predict_scores(reloaded, x[120:]), scores)
    # The grader's re-run gives the saved scores exactly.
    np.testing.assert_array_equal(ModelRunner().predict(fit.folder / "best.keras", x[120:]), scores)


def test_a_bfloat16_checkpoint_loads_in_float32_in_a_process_forced_to_float32(tmp_path):
    """A file saved while the model still computed in bfloat16 (a checkpoint, or a model from elsewhere) is loaded
    computing in float32 by a fresh process that forces float32 and knows of no bfloat16 on its machine."""
    x, y = _toy_images(64)
    model, _ = build_for_training(_conv_net, choose_precision("bfloat16", BF16_CPU))
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "bfloat16.keras"
    model.save(path)
    assert json.dumps(json.loads(__import__("zipfile").ZipFile(path).read("config.json"))).count("mixed_bfloat16")
    expected = predict_scores(to_float32(model), x)
    np.save(tmp_path / "x.npy", x)
    script = f"""
import numpy as np
from common.precision import PrecisionChoice, compute_precision, detect_machine, load_model, use_precision
from common.train import predict_scores
choice = use_precision("float32", detect_machine([], []))
assert choice.precision == "float32" and not choice.machine.native_bfloat16
model = load_model({str(path)!r})
assert compute_precision(model) == "float32", compute_precision(model)
np.save({str(tmp_path / "scores.npy")!r}, predict_scores(model, np.load({str(tmp_path / "x.npy")!r})))
"""
    completed = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "scores.npy"), expected, atol=1e-6)
    assert compute_precision(load_model(path)) == "float32"


def test_the_precision_flag_and_its_old_spelling(capsys):
    from assignments.a1_usps_fcnet.config import A1Config

    assert parse_config(A1Config, []).precision == "auto"
    assert parse_config(A1Config, ["--precision", "bfloat16"]).precision == "bfloat16"
    config = parse_config(A1Config, ["--mixed-precision"])
    assert config.precision == "float16"
    assert "--mixed-precision is now --precision float16" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_config(A1Config, ["--precision", "half"])
    assert "--precision must be one of auto, float32, bfloat16, float16" in capsys.readouterr().err
    assert PRECISIONS == precision_module.PRECISIONS


def test_a_run_config_json_reads_back_past_its_precision_record(tmp_path):
    from assignments.a1_usps_fcnet.config import A1Config
    from common.config import make_config

    saved = {**A1Config().to_dict(), "precision_used": choose_precision("auto", BF16_CPU).to_dict()}
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert parse_config(A1Config, ["--config", str(tmp_path / "config.json")]).precision == "auto"
    old = {key: value for key, value in A1Config().to_dict().items() if key != "precision"}
    assert make_config(A1Config, {**old, "mixed_precision": True}).precision == "float16"
    assert make_config(A1Config, {**old, "mixed_precision": False}).precision == "float32"
    with pytest.raises(ConfigError, match="Unknown configuration key"):
        make_config(A1Config, {"half_precision": True})


def test_help_shows_precision_with_auto_as_the_default():
    completed = subprocess.run([sys.executable, "-m", "assignments.a6_segmentation", "--help"], cwd=REPO,
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0
    help_text = " ".join(completed.stdout.split())
    assert "--precision PRECISION" in help_text and "(default: auto)" in help_text
    assert "--mixed-precision" not in help_text  # the old spelling works but is not offered


def test_the_bench_times_both_precisions_and_writes_a_row_with_flops_and_peak_share(monkeypatch):
    from assignments import bench

    monkeypatch.setattr(bench, "ROUND_SECONDS", 0.02)
    spec = bench.BenchModel(0, "toy", _conv_net, (12, 12, 1), 8, bench._classes(2, one_hot=False))
    row = bench.bench_model(spec, ["float32", "bfloat16"], 2, choose_precision("auto", BF16_CPU))
    assert (row["kind"], row["auto"], row["auto_speedup"]) == ("conv2d", "float32", 1.0)  # a tiny step
    for precision in ("float32", "bfloat16"):
        timing = row[precision]
        assert 0 < timing["low_ms"] <= timing["median_ms"] <= timing["high_ms"]
        assert timing["gflops"] == pytest.approx(row["train_gflop_per_step"] / timing["median_ms"] * 1e3)
    assert row["bfloat16"]["speedup"] == pytest.approx(row["float32"]["median_ms"] / row["bfloat16"]["median_ms"])
    table = bench._table([row], ["float32", "bfloat16"], {"float32": 100.0, "bfloat16": 200.0})
    cells = table.splitlines()[-1].split(" | ")
    assert "share of peak" in table and cells[-1].rstrip(" |") == f"{row['float32']['gflops'] / 100.0:.0%}"


def test_the_bench_refuses_unknown_assignments_in_one_line(capsys):
    from assignments import bench

    with pytest.raises(SystemExit):
        bench.main(["--assignments", "1,9"])
    assert f"--assignments takes numbers from 1 to {max(bench.MODELS)}" in capsys.readouterr().err
