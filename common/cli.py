"""The part of every assignment's command line that is the same: run, report the folder, explain errors."""

import sys

from common.tf_setup import quiet_native_logs


def run_and_print_folder(run, config):
    """Call ``run(config)``; print the run folder as the last line and return 0, or print a clear error and
    return 1 when the data or the run folder is the problem (their messages say how to fix it).

    TensorFlow's harmless C++ log lines are kept off the terminal while the run works (``quiet_native_logs``).
    """
    from common.datasets.files import DataError
    from common.run import RunError

    with quiet_native_logs():
        try:
            run_folder = run(config)
        except (DataError, RunError) as error:
            print(f"\nerror: {error}", file=sys.stderr)
            return 1
    print(run_folder)
    return 0
