"""The suite's launcher: ``python -m assignments {list,run,demo}``.

    python -m assignments list              the five assignments and whether each is built
    python -m assignments run 1 [ARGS...]   run assignment 1 with its own flags (make assignment1 ARGS=...)
    python -m assignments demo              every built assignment with --smoke, then where the reports are
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

# Number -> (package under assignments/, title). A package that does not exist yet is "not implemented".
ASSIGNMENTS = {
    1: ("a1_usps_fcnet", "USPS digits with a compact fully-connected network"),
    2: ("a2_spect_staging", "SPECT Parkinson's-disease staging"),
    3: ("a3_mri_fusion", "3D MRI tumour detection: single slice, late / early fusion, 3D ResNet"),
    4: ("a4_medmnist", "MedMNIST: 3D CNN, transfer learning, Grad-CAM, quantization, ResNet"),
    5: ("a5_brain_tumor_cnn", "Kaggle brain-tumour MRI CNN"),
}


def is_built(number):
    package, _ = ASSIGNMENTS[number]
    return importlib.util.find_spec(f"assignments.{package}") is not None


def run_assignment(number, args):
    """Run one assignment in this process's interpreter; returns its exit status."""
    package, title = ASSIGNMENTS[number]
    if not is_built(number):
        print(f"Assignment {number} ({title}) is not implemented yet: assignments/{package}/ does not exist.",
              file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, "-m", f"assignments.{package}", *args])


def demo():
    """Run every built assignment with --smoke on sample data; print where each report is."""
    summary = []
    status = 0
    for number, (package, title) in ASSIGNMENTS.items():
        if not is_built(number):
            summary.append(f"  assignment {number} ({package}): not implemented yet, skipped")
            continue
        print(f"\n=== assignment {number}: {title} (--smoke, sample data) ===", flush=True)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", f"assignments.{package}", "--smoke", "--verbose", "0"],
                                stdout=subprocess.PIPE, text=True)
        sys.stdout.write(result.stdout)
        lines = result.stdout.strip().splitlines()
        if result.returncode == 0 and lines:
            report = Path(lines[-1]) / "report.md"
            summary.append(f"  assignment {number} ({package}): {report}  [{time.perf_counter() - started:.0f} s]")
        else:
            status = 1
            summary.append(f"  assignment {number} ({package}): FAILED with exit status {result.returncode}")
    print("\nDemo reports (made from sample data, not results):")
    print("\n".join(summary))
    return status


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m assignments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the assignments")
    runner = commands.add_parser("run", help="run one assignment; flags after the number go to it")
    runner.add_argument("number", type=int, choices=sorted(ASSIGNMENTS))
    runner.add_argument("args", nargs=argparse.REMAINDER)
    commands.add_parser("demo", help="run every built assignment on sample data")
    options = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if options.command == "list":
        for number, (package, title) in ASSIGNMENTS.items():
            state = "built" if is_built(number) else "not implemented yet"
            print(f"{number}  {package:<20} {title}  [{state}]")
        return 0
    if options.command == "run":
        return run_assignment(options.number, options.args)
    return demo()


if __name__ == "__main__":
    sys.exit(main())
