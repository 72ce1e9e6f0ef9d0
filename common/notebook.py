"""What the assignments' notebooks show, with the package's own functions: no cell holds logic of its own.

Every notebook (``assignments/<name>/<name>.ipynb``) opens with the same set-up cell, which finds or installs
the suite and moves to its root, then calls::

    from common import notebook
    SMOKE = notebook.smoke_requested()   # the SMOKE=1 environment variable (the tests) or set it by hand
    notebook.describe_machine()          # TensorFlow, the GPUs it sees, DATA_DIR and the runs folder

A notebook trains by calling its assignment's ``train.run(config)``, exactly what the command line runs, and
shows the run's tables and figures with ``show_report(run_folder)``: the report's Markdown with every figure
inline, in the report's order.
"""

import os
import re
from pathlib import Path

SMOKE_VARIABLE = "SMOKE"
_IMAGE = re.compile(r"^!\[(?P<caption>[^\]]*)\]\((?P<path>[^)]+)\)\s*$")


def smoke_requested():
    """Whether ``SMOKE=1`` is set in the environment: the notebook then runs its assignment's ``--smoke``
    preset (sample data, a minute or two), as ``make test`` does."""
    value = os.environ.get(SMOKE_VARIABLE, "").strip().lower()
    return value in ("1", "true", "yes")


def config_flags(smoke, *flags):
    """The command-line flags of a notebook's run: ``--smoke`` first when ``smoke``, then ``flags``."""
    return (["--smoke"] if smoke else []) + [str(flag) for flag in flags]


def inline_figures():
    """Show a matplotlib ``Figure`` that is a cell's value as a PNG below the cell (``%matplotlib inline``);
    the suite's figures are stand-alone Figures, which IPython draws only once the inline backend is on."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")


_native_log_filter = None


def describe_machine():
    """Print what this kernel trains on: TensorFlow's version, the GPUs it sees, and where data and runs go.

    It also readies the kernel for the suite, once: figures inline (``inline_figures``), and the harmless C++
    lines TensorFlow logs during training dropped from the notebook as the command line drops them
    (``common.tf_setup.filter_native_logs_from_now_on``; every other line still shows).
    """
    global _native_log_filter
    from common.config import default_data_dir, default_runs_dir
    from common.tf_setup import filter_native_logs_from_now_on

    inline_figures()
    if _native_log_filter is None:
        _native_log_filter = filter_native_logs_from_now_on()
    from common.tf_setup import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    # In an interactive session TensorFlow sets its logger to INFO (every SavedModel export would say so);
    # a script's level is WARNING.
    tf.get_logger().setLevel("WARNING")
    import keras

    gpus = tf.config.list_physical_devices("GPU")
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}")
    print("GPUs: " + (", ".join(gpu.name for gpu in gpus) if gpus else
                      "none, training runs on the CPU (on Colab: Runtime > Change runtime type > GPU)"))
    print(f"DATA_DIR: {default_data_dir()}")
    print(f"runs go to: {default_runs_dir()}")
    return gpus


def describe_precision(config):
    """Print the precision the run's models will train in (``--precision``; ``auto`` decides per machine and per
    model, see ``common.precision``), and return its ``PrecisionChoice``."""
    from common.precision import choose_precision

    choice = choose_precision(config.precision)
    print(f"precision: {choice.describe()}")
    return choice


def _display(*objects):
    from IPython.display import display

    display(*objects)


def report_parts(report_text, run_folder):
    """The report split into ("markdown", text) and ("image", path) parts, in order; an image line whose file
    is missing stays Markdown (the link shows what is missing)."""
    parts, lines = [], []
    for line in report_text.splitlines():
        match = _IMAGE.match(line.strip())
        path = Path(run_folder) / match["path"] if match else None
        if path is not None and path.is_file():
            if lines:
                parts.append(("markdown", "\n".join(lines)))
                lines = []
            parts.append(("image", path))
        else:
            lines.append(line)
    if "".join(lines).strip():
        parts.append(("markdown", "\n".join(lines)))
    return parts


def show_report(run_folder):
    """Show ``run_folder/report.md`` in the notebook: its Markdown (tables, notes) with every figure inline.

    Raises:
        FileNotFoundError: the folder has no report.md (the run did not finish); the message names it.
    """
    from IPython.display import Image, Markdown

    report = Path(run_folder) / "report.md"
    if not report.is_file():
        raise FileNotFoundError(f"{report} does not exist: that run did not finish. Run the training cell again, "
                                "or pass the folder of a finished run.")
    for kind, value in report_parts(report.read_text(), run_folder):
        _display(Markdown(value) if kind == "markdown" else Image(filename=str(value)))


def show_table(rows, columns, formats=None):
    """Show ``rows`` (dicts) as a Markdown table with ``columns`` {key: header}, as the reports write them."""
    from IPython.display import Markdown

    from common.report import markdown_table

    _display(Markdown(markdown_table(rows, columns, formats)))


# The first code cell of every notebook, word for word (tests check it). It runs before the suite can be
# imported, so it holds its own few lines: on Colab it clones the course repository and installs the pinned
# runtime stack (requirements-colab*.txt: no Jupyter, no test tools, which Colab brings or does not need; with
# TensorFlow's CUDA libraries when the runtime has a GPU), then restarts the runtime, as Colab needs after pip
# replaced packages it had loaded; in a checkout it finds the suite's root. Either way it then moves there, so
# runs/ and data/ are the command line's. `make release GIT_URL=URL` writes the course's repository into the
# student copy's notebooks.
SETUP_CELL = '''\
# Set-up: the same cell on Colab and in a checkout of the suite (make notebook).
import os
import shutil
import subprocess
import sys
from pathlib import Path

SUITE_GIT_URL = ""  # the course's git repository, for Colab: "https://<host>/<course>.git"


def find_suite(folder):
    """The nearest folder at or above ``folder`` that holds the suite (an assignments/ package)."""
    return next((path for path in [folder, *folder.parents] if (path / "assignments" / "__init__.py").is_file()), None)


root = find_suite(Path.cwd())
if root is None and "google.colab" in sys.modules:
    root = Path(os.environ.get("SUITE_ROOT", "/content/suite"))
    if not (root / "assignments").is_dir():
        if not SUITE_GIT_URL:
            raise SystemExit("Set SUITE_GIT_URL in this cell to the course's git repository, then run it again.")
        subprocess.run(["git", "clone", "--depth", "1", SUITE_GIT_URL, str(root)], check=True)
    if not (root / ".colab-installed").exists():  # written only once pip succeeded: a failed install is retried
        requirements = "requirements-colab-gpu.txt" if shutil.which("nvidia-smi") else "requirements-colab.txt"
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-r", str(root / requirements)], check=True)
        (root / ".colab-installed").write_text(requirements)
        print("Installed. The runtime restarts now to load the new packages: run this cell again.", flush=True)
        os.kill(os.getpid(), 9)
    os.environ.setdefault("DATA_DIR", "/content/data")
if root is None:
    raise SystemExit(f"{Path.cwd()} is not inside the suite: open the notebook from its checkout (make notebook).")
os.chdir(root)
if str(root) not in sys.path:
    sys.path.insert(0, str(root))
print(f"the suite: {root}")'''
