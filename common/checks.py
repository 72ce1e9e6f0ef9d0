"""Student checks: small, fast tests of the parts of an assignment a student writes (in the way of CS231n's
notebooks): shapes, a parameter count, a model that learns a trivially separable toy set, a preprocessing step
against a worked example.

An assignment lists its checks in ``assignments/<name>/checks.py`` as ``CHECKS``, functions that raise
``AssertionError`` with a message on failure; each docstring's first line names the check.
``python -m assignments check N`` (``make check ASSIGNMENT=N``) runs them with ``run_checks``: a block still
to be written raises ``NotImplementedError("<file>: TODO: <hint>")``, and the check shows that hint.
"""

import time
import traceback

import numpy as np

PASSED, FAILED, TODO = "ok", "FAIL", "TODO"


def _name(check):
    return (check.__doc__ or check.__name__).strip().splitlines()[0].rstrip(".")


def run_check(check):
    """(status, message) of one check: PASSED, TODO (a block to write; the message is its hint) or FAILED."""
    try:
        check()
    except NotImplementedError as error:
        return TODO, str(error) or "a block is still to be written"
    except AssertionError as error:
        return FAILED, str(error) or "an assertion failed"
    except Exception as error:  # noqa: BLE001 (a student's code can fail in any way; show where)
        frame = traceback.extract_tb(error.__traceback__)[-1]
        return FAILED, f"{type(error).__name__}: {error} ({frame.filename}, line {frame.lineno})"
    return PASSED, ""


def run_checks(checks, title):
    """Run ``checks`` in order, print one line per check (and its hint or error), return the exit status: 0
    when every check passed, 1 otherwise."""
    print(f"Checks of {title}:")
    counts = {PASSED: 0, FAILED: 0, TODO: 0}
    for check in checks:
        started = time.perf_counter()
        status, message = run_check(check)
        counts[status] += 1
        print(f"  [{status:>4}] {_name(check)} ({time.perf_counter() - started:.1f} s)", flush=True)
        if message:
            print(f"         {message}", flush=True)
    print(f"{counts[PASSED]} passed, {counts[TODO]} still to write, {counts[FAILED]} failed.")
    return 0 if counts[PASSED] == len(checks) else 1


def toy_classes(shape, count=96, seed=0):
    """A trivially separable two-class set of images or volumes: (x float32 (count, *shape) in [0, 1], y int64).

    Every case is weak noise; each case of class 1 also holds a bright cube (square) of half the side, at a
    random place. Any model that can learn at all separates them within a few epochs, whether it looks at
    positions (a dense layer) or pools over them (global pooling, late fusion).
    """
    rng = np.random.default_rng(seed)
    y = np.arange(count) % 2
    x = rng.uniform(0.0, 0.2, size=(count, *shape)).astype(np.float32)
    spatial = shape[:-1]
    for index in np.flatnonzero(y == 1):
        corner = [rng.integers(0, side - side // 2 + 1) for side in spatial]
        x[(index, *(slice(start, start + side // 2) for start, side in zip(corner, spatial)))] += 0.8
    return x, y.astype(np.int64)


def assert_learns(model, x, y, epochs=15, minimum=0.95, learning_rate=3e-3, batch_size=16):
    """Train ``model`` (uncompiled, softmax outputs) on (x, y) and assert its training accuracy reaches
    ``minimum``; the message gives the accuracy reached."""
    import keras

    from common.reproducibility import set_seed
    from common.train import recalibrate_batch_norm

    set_seed(0)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, shuffle=True)
    # A few dozen steps leave batch norm's moving averages far from the data; measure them as the suite does.
    recalibrate_batch_norm(model, x)
    accuracy = float((model.predict(x, verbose=0).argmax(axis=1) == y).mean())
    assert accuracy >= minimum, (f"after {epochs} epochs on a trivially separable toy set the model classifies "
                                 f"{accuracy:.0%} of it correctly (expected at least {minimum:.0%}); check the "
                                 "layers, the activations and the output")


def assert_close(actual, expected, what, tolerance=1e-5):
    """Assert two arrays agree in shape and values; the message names ``what`` and shows both."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    assert np.allclose(actual, expected, atol=tolerance), (f"{what}: got\n{np.array2string(actual, precision=4)}\n"
                                                           f"expected\n{np.array2string(expected, precision=4)}")


def assert_parameters(model, low, high, what):
    """Assert the model's parameter count lies in [low, high]."""
    count = model.count_params()
    assert low <= count <= high, f"{what} has {count:,} parameters; expected {low:,} to {high:,}"
