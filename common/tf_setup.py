"""Quiet, predictable TensorFlow start-up.

TensorFlow 2.21 prints several INFO lines from C++ at import time ("oneDNN custom operations are on",
"Could not find cuda drivers") *before* its logging is initialised, so ``TF_CPP_MIN_LOG_LEVEL`` alone
does not silence them. ``import_tensorflow_quietly`` imports TensorFlow with the process-level stderr
captured and replays every captured line except those known informational ones, so warnings and
errors still reach the user.
"""

import logging
import os
import sys
import tempfile

# Lines TensorFlow writes at import even with TF_CPP_MIN_LOG_LEVEL=2. Only INFO-level ("I0000")
# lines and absl's notice about them are dropped; anything else captured is printed again.
_DROPPED_PREFIXES = ("I0000 ", "WARNING: All log messages before absl::InitializeLog()")
# On a machine without an NVIDIA driver, the GPU-enabled wheel reports a failed cuInit as an error
# when it first looks for devices; it means nothing more than "no GPU", which the CPU path expects.
_NO_DRIVER_MESSAGE = "failed call to cuInit"


def _is_noise(line):
    if line.startswith(_DROPPED_PREFIXES):
        return True
    return _NO_DRIVER_MESSAGE in line and not os.path.exists("/proc/driver/nvidia")


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
    try:
        stderr_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        # No real file descriptor (e.g. inside some notebooks or test capture): import plainly.
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
            kept = [line for line in text.splitlines() if line and not _is_noise(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)
    return _quiet_python_logging(tensorflow)
