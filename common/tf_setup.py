"""Quiet, predictable TensorFlow start-up, and a terminal free of TensorFlow's harmless C++ log lines.

TensorFlow 2.21 prints several INFO lines from C++ at import time ("oneDNN custom operations are on",
"Could not find cuda drivers") *before* its logging is initialised, so ``TF_CPP_MIN_LOG_LEVEL`` alone
does not silence them. ``import_tensorflow_quietly`` imports TensorFlow with the process-level stderr
captured and replays every captured line except those known informational ones, so warnings and
errors still reach the user. During a run, a few harmless lines are logged at *error* level from C++
(which ``TF_CPP_MIN_LOG_LEVEL`` could hide only together with every real error); ``quiet_native_logs``
passes the process's stderr through a filter that drops exactly those lines.
"""

import contextlib
import logging
import os
import subprocess
import sys
import tempfile

# Lines TensorFlow and LiteRT write from C++ that say nothing a user can act on. INFO-level ("I0000") lines and
# absl's notice about them; the converter's and the interpreter's progress lines.
NOISE_PREFIXES = ("I0000 ", "WARNING: All log messages before absl::InitializeLog()", "fully_quantize:",
                  "INFO: Created TensorFlow Lite XNNPACK delegate")
# Error- and warning-level lines of TensorFlow 2.21 on a CPU that are harmless: tf.data's graph rewrite under op
# determinism meets an attribute of its own newer op version; a bool op that oneDNN leaves to Eigen on CPUs
# without AVX-512; a multi-worker input pipeline that tf.data does not optimise.
NOISE_FRAGMENTS = ("NodeDef mentions attribute use_unbounded_threadpool which is not in the op definition",
                   "oneDNN supports DT_BOOL only on platforms with AVX-512",
                   "will not be optimized because the dataset does not implement the AsGraphDefInternal()")
# On a machine without an NVIDIA driver, the GPU-enabled wheel reports a failed cuInit as an error
# when it first looks for devices; it means nothing more than "no GPU", which the CPU path expects.
_NO_DRIVER_MESSAGE = "failed call to cuInit"


def native_stderr_fd():
    """The file descriptor C++ code writes its logs to, 2, or None where the process has none. Not
    sys.stderr.fileno(): in a Jupyter kernel that is a copy of the original stderr, while fd 2 is the pipe the
    kernel forwards to the notebook."""
    try:
        os.fstat(2)
    except OSError:
        return None
    return 2


def is_native_noise(line):
    """Whether a line TensorFlow wrote to stderr is one of the known harmless ones (see the module docstring)."""
    if line.startswith(NOISE_PREFIXES) or any(fragment in line for fragment in NOISE_FRAGMENTS):
        return True
    return _NO_DRIVER_MESSAGE in line and not os.path.exists("/proc/driver/nvidia")


# The filter process of quiet_native_logs: it copies its stdin to its stdout line by line, leaving out the noise.
# It ignores Ctrl-C, so that it outlives the run's own handling of an interrupt, and ends when the pipe closes
# (also when the run's process dies), after passing on everything written before.
_FILTER_PROGRAM = """
import signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
from common.tf_setup import is_native_noise
out = sys.stdout.buffer
for raw in sys.stdin.buffer:
    if not is_native_noise(raw.decode("utf-8", "replace")):
        out.write(raw)
        out.flush()
"""


def _start_filter(stderr_fd):
    """Start the filter process on a copy of ``stderr_fd`` and point ``stderr_fd`` at its input; returns (the
    process, the copy of the original descriptor)."""
    sys.stderr.flush()
    saved_fd = os.dup(stderr_fd)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    filter_process = subprocess.Popen([sys.executable, "-c", _FILTER_PROGRAM], stdin=subprocess.PIPE,
                                      stdout=saved_fd, env=environment, close_fds=True)
    os.dup2(filter_process.stdin.fileno(), stderr_fd)
    return filter_process, saved_fd


@contextlib.contextmanager
def quiet_native_logs():
    """Within the block, everything written to this process's stderr (fd 2, C++ logs included) goes through a
    filter that drops the known harmless TensorFlow lines (``is_native_noise``) and passes the rest at once.

    Without a stderr file descriptor, the block runs unfiltered.
    """
    stderr_fd = native_stderr_fd()
    if stderr_fd is None:
        yield
        return
    filter_process, saved_fd = _start_filter(stderr_fd)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved_fd, stderr_fd)
        filter_process.stdin.close()
        filter_process.wait(timeout=30)
        os.close(saved_fd)


def filter_native_logs_from_now_on():
    """Pass this process's stderr (fd 2) through the same filter as ``quiet_native_logs`` until the process
    ends: for a Jupyter kernel, whose cells cannot all sit in one ``with`` block. Returns the filter process,
    or None without a stderr file descriptor. Call it once per process."""
    stderr_fd = native_stderr_fd()
    if stderr_fd is None:
        return None
    filter_process, saved_fd = _start_filter(stderr_fd)
    # fd 2 now holds the pipe's only write end: the filter ends when this process closes it, at exit.
    filter_process.stdin.close()
    os.close(saved_fd)
    return filter_process


def configure_tensorflow_logging(level="2"):
    """Set TensorFlow's C++ log level (``"2"`` keeps warnings and errors) unless the user set one."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", level)


class _RetracingNoticeFilter(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warning. An assignment that trains several models
    in one process makes new training functions for each model, and TensorFlow counts those as retracing; the
    advice in the warning does not apply, and it would be the only noise in an otherwise clean run."""

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


def _quiet_python_logging(tensorflow):
    tensorflow.get_logger().addFilter(_RetracingNoticeFilter())
    return tensorflow


def import_tensorflow_quietly():
    """Import and return ``tensorflow``, dropping its informational start-up lines."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    configure_tensorflow_logging()
    stderr_fd = native_stderr_fd()
    if stderr_fd is None:  # no file descriptor to capture: import plainly
        import tensorflow

        return _quiet_python_logging(tensorflow)
    sys.stderr.flush()
    saved_fd = os.dup(stderr_fd)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), stderr_fd)
        try:
            import tensorflow

            # Device discovery logs too, so it runs here, under the same capture.
            tensorflow.config.list_physical_devices()
        finally:
            sys.stderr.flush()
            os.dup2(saved_fd, stderr_fd)
            os.close(saved_fd)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines() if line and not is_native_noise(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)
    return _quiet_python_logging(tensorflow)
