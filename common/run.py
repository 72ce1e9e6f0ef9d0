"""One run of an assignment, from start-up to ``metrics.json``: the same mechanism for every assignment.

Every ``train.run(config)`` begins the same way::

    session = start_run(config)              # strategy first (before any other TensorFlow work), seed, precision
    data = load_data(config)                 # before the folder: missing data leaves no empty run folder
    run = session.open_folder(ASSIGNMENT)    # a new (or, with --resume, the unfinished) run folder
    ...
    run.write_metrics(rows, data=...)        # adds the seed, the software and machine, the wall time

and writes one folder, ``runs/<assignment>/<timestamp>/``::

    config.json        the resolved configuration (re-run it with --config config.json)
    <model>/           per-model checkpoint and history (see common.train)
    predictions/       saved labels and scores per model and split, so a grader can re-score them
    figures/           learning curves, confusion matrices, ROC curves, example images
    metrics.json       written last: {"results": [result rows, see common.results], "seed", "environment", ...}
    report.md          a short report with the tables and figures

Folders are never reused: a second run in the same second gets a ``-2`` suffix. A run folder without
``metrics.json`` is unfinished and is what ``--resume`` continues.
"""

import atexit
import dataclasses
import datetime
import json
import os
import platform
import shlex
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

from common.atomic import to_json_ready, write_json, write_text
from common.results import row_problems

METRICS_FILE = "metrics.json"
CONFIG_FILE = "config.json"
# Written by common.train.fit_model into each finished model folder.
DONE_FILE = "done.json"
# Present while a process works in the run folder: its process id, host and start (see RunFolder.lock).
LOCK_FILE = "run.lock"
# Settings that may differ between a run and its resumption.
RESUMABLE_CHANGES = ("resume", "verbose", "runs_dir")


class RunError(RuntimeError):
    """A run folder that cannot be created or resumed; the message says what to do."""


def environment():
    """The software and machine a run used, recorded in its metrics."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(package):
        try:
            return version(package)
        except PackageNotFoundError:
            return None

    tensorflow = sys.modules.get("tensorflow")  # a run has imported it by now; the record does not import it
    gpus = [device.name for device in tensorflow.config.list_physical_devices("GPU")] if tensorflow else None
    return {"python": platform.python_version(), "machine": platform.machine(), "system": platform.platform(),
            "cpus": os.cpu_count(), "gpus": gpus, "tensorflow": installed("tensorflow"), "keras": installed("keras"),
            "numpy": installed("numpy"), "scikit-learn": installed("scikit-learn")}


def _process_start(pid):
    """The start time of process ``pid`` in clock ticks since boot (Linux), or None where it cannot be read; with
    the process id it tells a live owner from a new process that got the same id."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _alive(owner):
    """Whether the process recorded in a lock still runs (on this host; another host's is assumed alive)."""
    if owner.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except (KeyError, TypeError, ValueError):
        return False
    started = _process_start(int(owner["pid"]))
    return started is None or owner.get("process_start") in (None, started)


# Run folders this process holds, released when it ends (``release_all``, also at interpreter exit).
_HELD = []


def release_all():
    """Release every run folder this process holds: unlock them, delete the temporary ones (other workers')."""
    while _HELD:
        _HELD.pop().release()


atexit.register(release_all)


def held_temporary_folders():
    """The paths of the temporary run folders (other workers') this process holds."""
    return {str(run.path) for run in _HELD if run.temporary}


def command_line():
    """The command that started this process, as a user would type it (``python -m package args``)."""
    module = getattr(sys.modules.get("__main__"), "__spec__", None)
    start = ["python", "-m", module.name.removesuffix(".__main__")] if module else ["python", sys.argv[0]]
    return shlex.join([*start, *sys.argv[1:]])


class RunFolder:
    """The folder of one run of one assignment."""

    def __init__(self, path, assignment, started=None, temporary=False):
        self.path = Path(path)
        self.assignment = assignment
        self.config = None
        self.started = time.perf_counter() if started is None else started
        self.temporary = temporary  # a worker's scratch copy in a multi-worker run: deleted at the end
        self.locked = False
        self.precision = None  # the run's common.precision.PrecisionChoice, recorded in config.json and metrics

    def lock_owner(self):
        """The lock's record {pid, host, process_start, started, command} if a live process holds this folder."""
        path = self.path / LOCK_FILE
        try:
            owner = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None  # a lock cut short by a crash: nobody holds it
        return owner if isinstance(owner, dict) and _alive(owner) else None

    def lock(self):
        """Take the folder for this process (``run.lock``); a stale lock of a process that is gone is replaced.

        Raises:
            RunError: another live process holds it; the message names it and what to do.
        """
        me = {"pid": os.getpid(), "host": socket.gethostname(), "process_start": _process_start(os.getpid()),
              "started": datetime.datetime.now().isoformat(timespec="seconds"), "command": command_line()}
        path = self.path / LOCK_FILE
        for _ in range(2):
            try:
                descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                owner = self.lock_owner()
                if owner is not None and (owner.get("pid"), owner.get("host")) != (me["pid"], me["host"]):
                    raise RunError(f"{self.path} is in use by process {owner.get('pid')} on {owner.get('host')} "
                                   f"(started {owner.get('started')}: {owner.get('command')}). Wait for it to "
                                   f"finish or stop it; if it is gone, delete {path}.") from None
                path.unlink(missing_ok=True)  # stale, or already ours
                continue
            with os.fdopen(descriptor, "w") as handle:
                handle.write(json.dumps(me) + "\n")
            self.locked = True
            _HELD.append(self)
            # Files a killed process was writing when it died (common.atomic): no live process owns them now.
            for partial in self.path.rglob(".*.partial*"):
                partial.unlink(missing_ok=True)
            return self
        raise RunError(f"could not lock {self.path}; delete {path} if no run is using the folder.")

    def release(self):
        """Unlock the folder (and delete it if it is a worker's temporary copy)."""
        if self.temporary:
            shutil.rmtree(self.path, ignore_errors=True)
        elif self.locked:
            (self.path / LOCK_FILE).unlink(missing_ok=True)
        self.locked = False

    @classmethod
    def create(cls, runs_dir, assignment, now=None):
        """Make a new, empty run folder ``runs_dir/assignment/<YYYYmmdd-HHMMSS>[-n]``."""
        parent = Path(runs_dir) / assignment
        parent.mkdir(parents=True, exist_ok=True)
        stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
        for attempt in range(1, 1000):
            path = parent / (stamp if attempt == 1 else f"{stamp}-{attempt}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return cls(path, assignment)
        raise RunError(f"Could not create a new run folder under {parent}.")

    @classmethod
    def latest_unfinished(cls, runs_dir, assignment):
        """The most recent run folder of ``assignment`` without ``metrics.json``, or ``None``."""
        parent = Path(runs_dir) / assignment
        if not parent.is_dir():
            return None
        candidates = sorted((p for p in parent.iterdir() if p.is_dir() and not (p / METRICS_FILE).exists()),
                            key=lambda p: p.stat().st_mtime)
        return cls(candidates[-1], assignment) if candidates else None

    @classmethod
    def open(cls, runs_dir, assignment, resume=False):
        """A new run folder, or with ``resume`` the latest unfinished one, locked for this process.

        Raises:
            RunError: ``resume`` and there is no unfinished run, or the latest one is still running (it is never
                joined: two processes would write the same files); the message names it.
        """
        if resume:
            run = cls.latest_unfinished(runs_dir, assignment)
            if run is None:
                raise RunError(f"--resume found no unfinished run of {assignment} under "
                               f"{Path(runs_dir) / assignment} (a finished run has a {METRICS_FILE}). "
                               "Run again without --resume to start a new run.")
            owner = run.lock_owner()
            if owner is not None and owner.get("pid") != os.getpid():
                raise RunError(f"--resume: the latest unfinished run, {run.path}, is still running (process "
                               f"{owner.get('pid')} on {owner.get('host')}, started {owner.get('started')}). Let it "
                               "finish, or stop it and then resume it.")
            return run.lock()
        return cls.create(runs_dir, assignment).lock()

    @property
    def figures(self):
        folder = self.path / "figures"
        folder.mkdir(exist_ok=True)
        return folder

    def model_folder(self, name):
        return self.path / name

    def relative(self, path):
        """``path`` relative to the run folder, as metrics and reports name files."""
        return str(Path(path).relative_to(self.path))

    def start(self, config):
        """Write the run's configuration; when resuming, first check that it matches the saved one.

        Resuming with different settings would silently mix two experiments in one folder, so it is refused.
        """
        saved_path = self.path / CONFIG_FILE
        if config.resume and saved_path.exists():
            try:
                saved = json.loads(saved_path.read_text())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
                raise RunError(f"{saved_path} cannot be read ({error}), so this run cannot be resumed safely. "
                               "Start a new run without --resume.") from None
            current = to_json_ready(config.to_dict())
            changed = sorted(key for key, value in current.items()
                             if key not in RESUMABLE_CHANGES and saved.get(key) != value)
            if changed:
                raise RunError(f"{self.path} was started with different settings ({', '.join(changed)}). Resume "
                               f"it with its own settings: --config {saved_path} --resume")
        self.config = config
        settings = config.to_dict() if hasattr(config, "to_dict") else dict(config)
        if self.precision is not None:  # a record beside the settings, which --config reads past
            settings["precision_used"] = self.precision.to_dict()
        write_json(saved_path, settings)

    def write_metrics(self, results, **extra):
        """Write ``metrics.json``: the result rows (``common.results``), ``extra``, and what every run records:
        the seed, the software and machine (``environment``) and the wall time since start-up. Returns what it
        wrote, for the report."""
        for row in results:
            problems = row_problems(row)
            if problems:
                name = row.get("model", row) if isinstance(row, dict) else row
                raise ValueError(f"result row {name}: {'; '.join(problems)}.")
        recorded = {"seed": getattr(self.config, "seed", None), "environment": environment(),
                    "precision": self.precision_record(), "wall_seconds": time.perf_counter() - self.started}
        data = {"assignment": self.assignment, "run": self.path.name,
                "finished": datetime.datetime.now().isoformat(timespec="seconds"), **recorded, **extra,
                "results": results}
        write_json(self.path / METRICS_FILE, data)
        return data

    def precision_record(self):
        """The run's precision (``common.precision.PrecisionChoice.to_dict``) with ``models``: {model folder: the
        precision it trained in, its kind and why}, read from every finished model's ``done.json``."""
        record = self.precision.to_dict() if self.precision is not None else {}
        models = {}
        for done in sorted(self.path.glob(f"*/{DONE_FILE}")):
            try:
                precision = json.loads(done.read_text()).get("precision")
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                continue
            if precision:
                models[done.parent.name] = precision
        return {**record, "models": models}

    def read_metrics(self):
        """The run's ``metrics.json`` as a dict."""
        return json.loads((self.path / METRICS_FILE).read_text())

    def write_report(self, text):
        write_text(self.path / "report.md", text)
        return self.path / "report.md"


@dataclasses.dataclass
class RunStart:
    """What ``start_run`` set up: the strategy to build models under, and the clock of the run."""

    config: object
    strategy: object
    started: float
    precision: object = None  # the run's common.precision.PrecisionChoice

    def open_folder(self, assignment):
        """The run folder of this run (new, or the unfinished one with ``--resume``), locked, its config written.

        In a multi-worker run only the chief writes the run folder; every other worker runs the same code in a
        temporary folder of its own, deleted at the end (the workers must run the same collective operations).
        """
        if not is_chief(self.strategy):
            if self.config.resume:
                raise RunError("--resume is not supported with --strategy multi-worker: the workers would start "
                               "from different states. Start a new run.")
            run = RunFolder(tempfile.mkdtemp(prefix=f"{assignment}-worker-"), assignment, temporary=True)
            _HELD.append(run)
        else:
            run = RunFolder.open(self.config.runs_dir, assignment, resume=self.config.resume)
        run.started = self.started
        run.precision = self.precision
        run.start(self.config)
        print(f"[run] {run.path}" + (" (this worker's temporary copy; the chief writes the run folder)"
                                     if run.temporary else ""), flush=True)
        return run


def is_chief(strategy):
    """Whether this process writes the run's files: always, except on the non-chief workers of a multi-worker
    strategy (the chief is task "chief", or worker 0 when the cluster names no chief)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    cluster = resolver.cluster_spec().as_dict() if resolver is not None else {}
    if not cluster:
        return True
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in cluster


def start_run(config):
    """The first call of every assignment's ``run(config)``.

    The ``tf.distribute`` strategy is made first: a multi-worker strategy must exist before any other TensorFlow
    work. Then every random generator is seeded (with op determinism, so the same seed on the same machine gives
    the same metrics) and the run's float precision is chosen (``--precision``, ``common.precision``).
    """
    from common.precision import use_precision
    from common.reproducibility import set_seed
    from common.strategy import get_strategy

    started = time.perf_counter()
    strategy = get_strategy(config.strategy)
    set_seed(config.seed)
    precision = use_precision(config.precision)
    print(f"[precision] {precision.describe()}", flush=True)
    return RunStart(config, strategy, started, precision)
