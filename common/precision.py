"""The float precision a model trains in, chosen per machine and per model: ``--precision``.

Mixed precision keeps every weight in float32 but computes the layers in a 16-bit type: bfloat16 (the range of
float32 with 8 bits of mantissa) or float16 (more mantissa, much less range, so its loss must be scaled; Keras
does that itself). Matrix units that take 16-bit inputs do about twice the work per cycle, and moving half the
bytes helps memory-bound layers too. What each precision is worth depends on the machine and the model, so
``make bench`` measures it (``assignments.bench``; its table is in the README), and ``auto``, the default,
applies what it measured:

- a CPU whose flags list ``amx_bf16`` or ``avx512_bf16`` (Intel Sapphire Rapids and later, AMD Zen 4 and
  later): bfloat16, which oneDNN runs natively there;
- an NVIDIA GPU of compute capability 8.0 or newer (Ampere, Hopper): bfloat16, which its tensor cores take;
- an NVIDIA GPU of compute capability 7.x (Volta, Turing): float16, the 16-bit type its tensor cores take;
- anything else: float32 (a 16-bit type without hardware support is emulated, and slower than float32);
- and float32 on a CPU, whatever its flags, for the models measured no faster in bfloat16 there: the model
  kinds of ``CPU_FLOAT32_KINDS``, a model with no convolution at all (``model_kind`` "dense", such as assignment
  1's fully-connected network), whose small matrix products gain little from 16-bit inputs and lose time in the
  casts around every layer, and a model of depthwise-separable convolutions ("depthwise", such as EfficientNet),
  whose depthwise layers oneDNN runs slower in bfloat16 than in float32; and a model whose training step is
  small, under ``CPU_MIN_STEP_GFLOP`` (its counted FLOPs x the batch, ``common.profiling.count_training_flops``):
  there every layer's fixed cost per step (launching its kernels, casting its weights to bfloat16) outweighs the
  faster arithmetic, and ``make bench`` measured such models at 0.82-1.08x.

What stays float32 under every precision: the weights, the optimizer's state, the output layer (every builder
of the suite gives it ``dtype="float32"``, and ``build_for_training`` refuses a model whose outputs are not
float32) and so the probabilities and the loss. After training, ``to_float32`` switches the trained model to
float32 compute in place (the weights are float32 already), so the saved model file, every saved score, the
grader's re-run, Grad-CAM and the LiteRT conversions all work on a float32 model, the same on every machine;
``load_model`` does the same for any ``.keras`` file, so a model trained in bfloat16 elsewhere loads and runs in
float32 here, never emulated.

The choice is one object per run, ``PrecisionChoice``, set by ``common.run.start_run`` (``use_precision``) and
recorded in the run's ``config.json`` (``precision_used``), each model's ``done.json`` and ``metrics.json``.
"""

import contextlib
import dataclasses
import sys
from pathlib import Path

PRECISIONS = ("auto", "float32", "bfloat16", "float16")
# The Keras dtype policy of each precision: mixed policies keep float32 variables.
KERAS_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
# CPU flags (Linux /proc/cpuinfo) of native bfloat16 arithmetic that oneDNN uses.
CPU_BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16")
# Model kinds (``model_kind``) that ``make bench`` measured slower in bfloat16 than in float32 on a CPU with
# native bfloat16 (see the README's table): under ``auto`` they train in float32 there.
CPU_FLOAT32_KINDS = ("dense", "depthwise")
# Below this many GFLOP per training step (the batch's), bfloat16 gained nothing on a CPU in ``make bench``;
# the conv models above it gained 1.06-2.03x.
CPU_MIN_STEP_GFLOP = 4.0

# Model kinds by the layers that do most of a model's arithmetic, checked in this order.
_CONVOLUTIONS = {
    "conv3d": ("Conv3D", "Conv3DTranspose"),
    "depthwise": ("DepthwiseConv2D", "SeparableConv2D", "DepthwiseConv1D", "SeparableConv1D"),
    "conv2d": ("Conv2D", "Conv2DTranspose"),
    "conv1d": ("Conv1D", "Conv1DTranspose"),
}


def _keras():
    from common.tf_setup import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras

    return keras


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU's feature flags as a set (from ``/proc/cpuinfo`` on Linux; empty where it cannot be read)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_name(cpuinfo="/proc/cpuinfo"):
    """The CPU's model name, e.g. "AMD EPYC" (``platform.processor()`` where /proc/cpuinfo is missing)."""
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def gpu_compute_capabilities():
    """[(major, minor), ...] of the GPUs TensorFlow sees (empty on a CPU-only machine)."""
    from common.tf_setup import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    capabilities = []
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability:
            capabilities.append(tuple(capability))
    return capabilities


@dataclasses.dataclass(frozen=True)
class Machine:
    """What decides ``auto``: the device that trains, and whether it computes 16-bit types natively."""

    device: str  # "cpu" or "gpu"
    description: str  # e.g. "CPU AMD EPYC with avx512_bf16"
    native_bfloat16: bool
    native_float16: bool  # tensor cores that take float16 (GPU compute capability 7.0 or newer)
    gpu_capability: tuple | None = None


def detect_machine(flags=None, capabilities=None):
    """The ``Machine`` this process trains on; ``flags`` and ``capabilities`` stand in for the real ones in tests."""
    capabilities = gpu_compute_capabilities() if capabilities is None else capabilities
    if capabilities:
        capability = min(capabilities)  # several GPUs train in step: the slowest kind decides
        return Machine("gpu", f"GPU of compute capability {capability[0]}.{capability[1]}",
                       native_bfloat16=capability >= (8, 0), native_float16=capability >= (7, 0),
                       gpu_capability=tuple(capability))
    flags = cpu_flags() if flags is None else set(flags)
    found = [flag for flag in CPU_BFLOAT16_FLAGS if flag in flags]
    description = f"CPU {cpu_name()}" + (f" with {' and '.join(found)}" if found else
                                         " without bfloat16 instructions (no amx_bf16 or avx512_bf16)")
    return Machine("cpu", description, native_bfloat16=bool(found), native_float16=False)


def auto_precision(machine):
    """(precision, reason) that ``auto`` picks on ``machine`` for models that gain from 16-bit compute."""
    if machine.device == "gpu":
        if machine.native_bfloat16:
            return "bfloat16", f"{machine.description}: bfloat16 tensor cores (8.0 and newer)"
        if machine.native_float16:
            return "float16", f"{machine.description}: float16 tensor cores (7.x), no bfloat16"
        return "float32", f"{machine.description}: no 16-bit tensor cores"
    if machine.native_bfloat16:
        return "bfloat16", f"{machine.description}: native bfloat16, measured faster by make bench"
    return "float32", f"{machine.description}: 16-bit types would be emulated, slower than float32"


@dataclasses.dataclass(frozen=True)
class PrecisionChoice:
    """The precision of one run: what was asked, what the machine gets, and why."""

    requested: str  # one of PRECISIONS
    precision: str  # float32, bfloat16 or float16: what models that gain from it compute in
    reason: str
    machine: Machine

    def for_model(self, kind, step_gflop=None):
        """(precision, reason) for a model of ``kind`` (``model_kind``) whose training step costs ``step_gflop``
        GFLOP (None: unknown)."""
        if self.requested != "auto":
            return self.precision, f"--precision {self.requested}"
        if self.precision == "bfloat16" and self.machine.device == "cpu":
            if kind in CPU_FLOAT32_KINDS:
                what = "a dense-only model (no convolutions)" if kind == "dense" else \
                    "a model of depthwise-separable convolutions"
                return "float32", f"{what}: measured slower in bfloat16 than in float32 on a CPU by make bench"
            if step_gflop is not None and step_gflop < CPU_MIN_STEP_GFLOP:
                return "float32", (f"a small training step ({step_gflop:.1f} GFLOP, under {CPU_MIN_STEP_GFLOP:g}): "
                                   "measured no faster in bfloat16 on a CPU by make bench")
        return self.precision, self.reason

    def to_dict(self):
        """The record written to config.json and metrics.json."""
        return {"requested": self.requested, "precision": self.precision, "reason": self.reason,
                "machine": self.machine.description,
                "float32_kinds": list(CPU_FLOAT32_KINDS) if self._cpu_exceptions() else [],
                "float32_below_step_gflop": CPU_MIN_STEP_GFLOP if self._cpu_exceptions() else None}

    def _cpu_exceptions(self):
        return self.requested == "auto" and self.precision == "bfloat16" and self.machine.device == "cpu"

    def describe(self):
        """One line for the terminal and the reports."""
        line = f"{self.precision} compute, float32 weights and outputs" if self.precision != "float32" else \
            "float32"
        if self._cpu_exceptions():
            line += (f" (float32 for dense-only and depthwise-convolution models and for training steps under "
                     f"{CPU_MIN_STEP_GFLOP:g} GFLOP)")
        return f"--precision {self.requested}: {line}; {self.reason}"


def choose_precision(requested="auto", machine=None):
    """The ``PrecisionChoice`` for ``--precision requested`` on ``machine`` (default: this one).

    An explicit 16-bit precision the machine cannot compute natively is kept, as asked, with a note that it is
    emulated (slower than float32).
    """
    if requested not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, not {requested!r}.")
    machine = machine or detect_machine()
    if requested == "auto":
        precision, reason = auto_precision(machine)
        return PrecisionChoice(requested, precision, reason, machine)
    native = {"float32": True, "bfloat16": machine.native_bfloat16, "float16": machine.native_float16}[requested]
    reason = "asked for" + ("" if native else f"; {machine.description} has no native {requested}, so it is "
                                              "emulated and slower than float32")
    return PrecisionChoice(requested, requested, reason, machine)


_current = []


def use_precision(requested="auto", machine=None):
    """Make ``choose_precision(requested)`` the precision of the models this process builds for training from now
    on (``build_for_training``); returns it. ``common.run.start_run`` calls it once per run."""
    choice = choose_precision(requested, machine)
    _current[:] = [choice]
    return choice


def current_precision():
    """The run's ``PrecisionChoice`` (``use_precision``); float32 where no run has set one (tests, checks)."""
    if not _current:
        _current.append(PrecisionChoice("float32", "float32", "no run set a precision", detect_machine([], [])))
    return _current[0]


@contextlib.contextmanager
def dtype_policy(precision):
    """Build the models of this block with ``precision``'s Keras dtype policy; the previous policy comes back."""
    keras = _keras()
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(KERAS_POLICIES[precision])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _all_layers(model):
    # Every layer, nested models and the sub-layers of composite layers (attention's projections) included.
    return list(model._flatten_layers(include_self=True, recursive=True))


def model_kind(model):
    """"conv3d" for a model with a 3D convolution, else "depthwise" for one with depthwise(-separable)
    convolutions, else "conv2d" or "conv1d", else "dense" (no convolution at all)."""
    names = {type(layer).__name__ for layer in _all_layers(model)}
    for kind, classes in _CONVOLUTIONS.items():
        if names & set(classes):
            return kind
    return "dense"


def compute_precision(model):
    """The precision a model computes in: "bfloat16" or "float16" if any layer computes in it, else "float32"."""
    dtypes = {layer.dtype_policy.compute_dtype for layer in _all_layers(model)}
    return next((name for name in ("bfloat16", "float16") if name in dtypes), "float32")


def to_float32(model):
    """Switch ``model`` to float32 compute, in place, and return it. Its weights are float32 under every policy,
    so nothing changes but the arithmetic; the traced train / test / predict steps are dropped so that the next
    call traces them in float32."""
    for layer in _all_layers(model):
        if layer.dtype_policy.compute_dtype != layer.dtype_policy.variable_dtype:
            layer.dtype_policy = "float32"
    model.train_function = model.test_function = model.predict_function = None
    return model


def float32_outputs_problem(model):
    """Why ``model``'s outputs are not all float32 (a message naming the output and the fix), or None."""
    for tensor in model.outputs:
        if str(tensor.dtype) != "float32":
            return (f"the output {tensor.name} computes in {tensor.dtype}: give the model's last layer "
                    "dtype=\"float32\" (e.g. layers.Dense(k, activation=\"softmax\", dtype=\"float32\")), so that "
                    "probabilities and the loss stay in float32 under mixed precision")
    return None


@dataclasses.dataclass(frozen=True)
class ModelPrecision:
    """The precision one model trained in, and why (recorded in its ``done.json``)."""

    precision: str
    kind: str
    reason: str
    step_gflop: float | None = None  # one training step's counted GFLOP, where the batch size was known

    def to_dict(self):
        return dataclasses.asdict(self)


def step_gflop(model, batch_size):
    """GFLOP of one training step of ``batch_size`` inputs (``common.profiling.count_training_flops``), or None
    where the batch or the layers' shapes are unknown."""
    if not batch_size:
        return None
    from common.profiling import count_training_flops

    try:
        return count_training_flops(model) * batch_size / 1e9
    except (AttributeError, TypeError, ValueError):  # a layer not built yet, or of unknown shapes
        return None


def build_for_training(build, choice=None, batch_size=None):
    """Build a model for training in the run's precision: ``(model, ModelPrecision)``.

    ``build`` (no arguments, returns a model, compiled or not) runs under the precision's dtype policy. A model
    that ``auto`` keeps in float32 (its kind, or its training step of ``batch_size`` inputs: see
    ``PrecisionChoice.for_model``) is switched to float32 before anything is traced (``to_float32``): the same
    weights and random states a float32 build would have, since the policy changes no draw.

    Raises:
        ValueError: the model's outputs would not be float32 under a 16-bit precision.
    """
    choice = choice or current_precision()
    with dtype_policy(choice.precision):
        model = build()
    kind = model_kind(model)
    gflop = step_gflop(model, batch_size)
    precision, reason = choice.for_model(kind, gflop)
    if precision == "float32" and choice.precision != "float32":
        to_float32(model)
    if precision != "float32":
        problem = float32_outputs_problem(model)
        if problem:
            raise ValueError(f"{model.name}: {problem}.")
    return model, ModelPrecision(precision, kind, reason, None if gflop is None else round(gflop, 2))


def load_model(path, compile=False, safe_mode=True):
    """A ``.keras`` model file, loaded to compute in float32 (``to_float32``), whatever precision it trained in.

    Every score the suite saves comes from a float32 model, so a re-run on any machine gives the same numbers,
    and a machine without native bfloat16 never emulates it.
    """
    keras = _keras()
    return to_float32(keras.saving.load_model(path, compile=compile, safe_mode=safe_mode))


def note(message):
    """A one-line note on stderr (the precision's notes: emulated types, the old flag)."""
    print(f"note: {message}", file=sys.stderr, flush=True)

