"""The part of every assignment's command line that is the same: run, report the folder, explain errors."""

import _thread
import signal
import sys
import threading

from common.tf_setup import quiet_native_logs

# The exit status of a run stopped with Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


def run_and_print_folder(run, config):
    """Call ``run(config)``; print the run folder as the last line and return 0, or print a clear one-line error
    and return 1 when the data or the run folder is the problem (their messages say how to fix it), or 130 after
    Ctrl-C, with the command that continues the run. ``run`` is the function, or the name of the module whose
    ``run`` it is (imported here, so that a Ctrl-C while TensorFlow loads is answered the same way).

    TensorFlow's harmless C++ log lines are kept off the terminal while the run works (``quiet_native_logs``), and
    the run folder is unlocked however the run ends.
    """
    import importlib

    from common.datasets.files import DataError
    from common.run import RunError, command_line, held_temporary_folders, release_all

    interrupted = _InterruptFlag()
    try:
        with quiet_native_logs(), interrupted:
            if isinstance(run, str):
                run = importlib.import_module(run).run
            run_folder = run(config)
    except (DataError, RunError) as error:
        if not interrupted.seen:
            print(f"\nerror: {error}", file=sys.stderr)
            return 1
    except BaseException:
        # A Ctrl-C that arrives inside TensorFlow's C++ code comes out as whatever exception that code raises.
        if not interrupted.seen:
            raise
    finally:
        temporary = held_temporary_folders()
        release_all()
    if interrupted.seen:
        command = command_line()
        resume = command if " --resume" in f" {command} " else f"{command} --resume"
        print(f"\ninterrupted; continue with: {resume}", file=sys.stderr)
        return INTERRUPTED
    if str(run_folder) in temporary:
        print("this worker is done; the chief wrote the run folder")
    else:
        print(run_folder)
    return 0


class _InterruptFlag:
    """Within the block, Ctrl-C (SIGINT) is noted before it interrupts, so that the run can tell an interruption
    from the error TensorFlow may turn it into.

    A KeyboardInterrupt that lands in a finalizer or another thread cannot stop the run there, and Python would
    print its traceback and go on; within the block such a report is dropped and the interrupt delivered to
    the main thread again."""

    def __init__(self):
        self.seen = False
        self._previous = None
        self._hooks = None

    def _handle(self, signum, frame):
        self.seen = True
        raise KeyboardInterrupt

    def _unraisable(self, report):
        if self.seen and issubclass(report.exc_type, KeyboardInterrupt):
            _thread.interrupt_main()
            return
        self._hooks[0](report)

    def _thread_exception(self, report):
        if self.seen and issubclass(report.exc_type, KeyboardInterrupt):
            _thread.interrupt_main()
            return
        self._hooks[1](report)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._hooks = (sys.unraisablehook, threading.excepthook)
            sys.unraisablehook, threading.excepthook = self._unraisable, self._thread_exception
        return self

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            sys.unraisablehook, threading.excepthook = self._hooks
        return False
