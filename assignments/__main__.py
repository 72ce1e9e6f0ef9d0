"""The suite's launcher: ``python -m assignments {list,run,demo,repeat,bench,check,release,grade,new,submit}``.

    python -m assignments list              the six assignments and whether each is built
    python -m assignments run 1 [ARGS...]   run assignment 1 with its own flags (make assignment1 ARGS=...)
    python -m assignments demo              every built assignment with --smoke, then where the reports are
    python -m assignments repeat 1 --seeds 42,43,44 [-- ARGS...]   one run per seed, mean ± sd of the results
    python -m assignments bench [--assignments 5,6]   training speed of the main models per precision (make bench)
    python -m assignments check 1           the student checks of assignment 1's parts to write (make check)
    python -m assignments release DEST      a student copy of the suite, solutions replaced by TODOs (make release)
    python -m assignments grade RUN ...     score runs or submissions against their rubrics (make grade RUN=...)
    python -m assignments new NAME --from 1 copy an assignment to start your own project (make new-assignment)
    python -m assignments submit 1          pack its code and latest finished run for grading (make submit)
    python -m assignments tensorboard       TensorBoard on every run's training curves (make tensorboard)
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from assignments.catalogue import ASSIGNMENTS, is_built, rubric_for
from common.config import default_data_dir, default_runs_dir


def run_assignment(number, args):
    """Run one assignment (a number 1-6, or the package name of a copy) in this interpreter; returns its exit
    status."""
    from assignments.workflow import WorkflowError, resolve_package

    if str(number).isdigit() and int(number) in ASSIGNMENTS and not is_built(int(number)):
        package, title = ASSIGNMENTS[int(number)]
        print(f"Assignment {number} ({title}) is not implemented yet: assignments/{package}/ does not exist.",
              file=sys.stderr)
        return 2
    try:
        package = resolve_package(number)
    except WorkflowError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return wait_for([sys.executable, "-m", f"assignments.{package}", *args])


def wait_for(command, **options):
    """Run ``command`` and return its exit status. Ctrl-C reaches the child too (it is in the same process group)
    and the child ends itself, saying how to continue; this process only waits for it, where
    ``subprocess.call`` would kill it before it could finish."""
    process = subprocess.Popen(command, **options)
    while True:
        try:
            process.wait()
            return process.returncode
        except KeyboardInterrupt:
            continue


def _tensorboard(options):
    """TensorBoard in a child process whose stderr passes the same filter as a run's: TensorFlow's CUDA, oneDNN
    and CPU-feature lines at start-up say nothing about the logs."""
    from common.tf_setup import quiet_native_logs

    with quiet_native_logs():
        return wait_for([sys.executable, "-m", "tensorboard.main", "--logdir", options.logdir, "--port", options.port,
                         "--load_fast", "true"])


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
        if result.returncode == 130:
            print("demo interrupted", file=sys.stderr)
            return 130
        if result.returncode == 0 and lines:
            report = Path(lines[-1]) / "report.md"
            seconds = time.perf_counter() - started
            summary.append(f"  assignment {number} ({package}): {report}  [{seconds:.0f} s, {_demo_grade(lines[-1])}]")
        else:
            status = 1
            summary.append(f"  assignment {number} ({package}): FAILED with exit status {result.returncode}")
    print("\nDemo reports (made from sample data, not results):")
    print("\n".join(summary))
    return status


def _demo_grade(run_folder):
    """The grader's verdict on a demo run (sample data, so its floors are skipped)."""
    from common.config import default_data_dir
    from common.grading import GradeOptions, grade, write_score_sheet

    sheet = grade(run_folder, rubric_for, GradeOptions(allow_sample=True, data_dir=default_data_dir()))
    write_score_sheet(sheet, run_folder)
    summary = sheet.to_dict()
    return f"grade {summary['verdict']} {summary['score']}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m assignments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the assignments")
    runner = commands.add_parser("run", help="run one assignment; flags after the number go to it")
    runner.add_argument("number", help="1-6, or the package name of a copy made with `new`")
    runner.add_argument("args", nargs=argparse.REMAINDER)
    commands.add_parser("demo", help="run every built assignment on sample data")
    repeater = commands.add_parser("repeat", help="run an assignment once per seed; mean and spread of the results "
                                                  "(the assignment's own flags after --)")
    repeater.add_argument("number", help="1-6, or the package name of a copy")
    repeater.add_argument("--seeds", default="42,43,44", help="comma-separated seeds (default: 42,43,44)")
    repeater.add_argument("--runs-dir", default=default_runs_dir(), help="default: $RUNS_DIR or runs/")
    commands.add_parser("bench", help="time the main models of every assignment in float32 and in the 16-bit "
                                      "precision of this machine (make bench); its own flags follow, see bench --help")
    checker = commands.add_parser("check", help="run the student checks of one assignment")
    checker.add_argument("number", help="1-6, the package name of a copy, or all")
    releaser = commands.add_parser("release", help="write a student copy of the suite (solutions become TODOs)")
    releaser.add_argument("destination", help="a new folder; an existing one is never written into")
    releaser.add_argument("--git-url", help="the course repository the students clone, written into every "
                                            "notebook's set-up cell (what Colab installs)")
    grader = commands.add_parser("grade", help="score run folders or submission archives against their rubrics")
    grader.add_argument("paths", nargs="+", help="run folders, submission .zip files, or folders holding them")
    grader.add_argument("--assignment", help="grade with this assignment's rubric (number or package name), "
                                             "e.g. for a renamed copy; default: the one the run names")
    grader.add_argument("--allow-sample", action="store_true",
                        help="grade a sample-data run (demo): its 'real data' item and the floors are skipped")
    grader.add_argument("--csv", help="write one line per run to this CSV (default with several runs: grades.csv)")
    grader.add_argument("--out", help="write the score sheets here instead of into each run folder")
    grader.add_argument("--data-dir", default=default_data_dir(),
                        help="the data the grader re-runs each submitted model on (default: $DATA_DIR or data/); "
                             "where a run's data is not there, its re-run is skipped")
    grader.add_argument("--no-rerun", action="store_true",
                        help="do not load and re-run the submitted models (only the saved predictions are checked)")
    grader.add_argument("--hidden-test", metavar="PATH",
                        help="also score every submitted model on the instructor's test cases at PATH: a folder or "
                             "CSV in the assignment's input format, or an official-format .npz")
    new = commands.add_parser("new", help="copy an assignment folder under a new package name")
    new.add_argument("name", help="the new package name, e.g. my_project")
    new.add_argument("--from", dest="source", required=True, help="the assignment to copy: 1-6 or a package name")
    submit = commands.add_parser("submit", help="pack an assignment's code and latest finished run into a .zip")
    submit.add_argument("assignment", help="1-6 or a package name")
    submit.add_argument("--run", help="the run folder to pack (default: the latest finished one)")
    submit.add_argument("--runs-dir", default=default_runs_dir(), help="default: $RUNS_DIR or runs/")
    submit.add_argument("--out", default="submissions", help="where the archive goes (default: submissions/)")
    board = commands.add_parser("tensorboard", help="start TensorBoard on the runs' training logs, without "
                                                     "TensorFlow's start-up lines")
    board.add_argument("--logdir", default=default_runs_dir(), help="default: $RUNS_DIR or runs/")
    board.add_argument("--port", default="6006", help="default: 6006")
    argv = sys.argv[1:] if argv is None else list(argv)
    # `bench FLAGS`: every flag after the command is the bench's own (assignments.bench).
    bench_flags = argv[1:] if argv[:1] == ["bench"] else None
    if bench_flags is not None:
        argv = argv[:1]
    # `repeat N ... -- FLAGS`: the flags after -- belong to the assignment, not to this launcher.
    passed_on = argv[argv.index("--") + 1:] if argv[:1] == ["repeat"] and "--" in argv else []
    options = parser.parse_args(argv[:argv.index("--")] if passed_on or argv[-1:] == ["--"] else argv)
    options.args = passed_on if options.command == "repeat" else getattr(options, "args", None)
    if options.command in ("new", "submit"):
        return _workflow(options)
    if options.command == "release":
        return _release(options)
    if options.command == "repeat":
        return _repeat(options)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if options.command == "tensorboard":
        return _tensorboard(options)
    if options.command in ("grade", "check", "bench"):
        # Each runs TensorFlow models: keep its harmless C++ lines off the terminal, as a run does.
        from common.tf_setup import quiet_native_logs

        with quiet_native_logs():
            if options.command == "bench":
                from assignments.bench import main as bench

                return bench(bench_flags)
            return _grade(options) if options.command == "grade" else _check(options)
    if options.command == "list":
        for number, (package, title) in ASSIGNMENTS.items():
            state = "built" if is_built(number) else "not implemented yet"
            print(f"{number}  {package:<20} {title}  [{state}]")
        return 0
    if options.command == "run":
        return run_assignment(options.number, options.args)
    return demo()


def _repeat(options):
    from assignments.repeat import repeat
    from assignments.workflow import WorkflowError, resolve_package

    try:
        package = resolve_package(options.number)
        seeds = [int(seed) for seed in options.seeds.split(",") if seed.strip()]
    except (WorkflowError, ValueError) as error:
        print(f"python -m assignments repeat: error: {error}", file=sys.stderr)
        return 2
    _, complete = repeat(package, seeds, options.args, options.runs_dir)
    return 0 if complete else 1


def _check(options):
    """The student checks of one assignment, or of every built one (``all``, one process); exit 0 when all pass."""
    import importlib

    from assignments.workflow import WorkflowError, resolve_package
    from common.checks import run_checks

    try:
        numbers = [number for number in ASSIGNMENTS if is_built(number)] if options.number == "all" \
            else [options.number]
        packages = [resolve_package(number) for number in numbers]
    except WorkflowError as error:
        print(f"python -m assignments check: error: {error}", file=sys.stderr)
        return 2
    status = 0
    for package in packages:
        try:
            module = importlib.import_module(f"assignments.{package}.checks")
        except ModuleNotFoundError as error:
            if error.name != f"assignments.{package}.checks":
                raise
            print(f"python -m assignments check: error: assignments/{package}/ has no checks.py.", file=sys.stderr)
            return 2
        status = max(status, run_checks(module.CHECKS, f"assignments/{package}"))
    return status


def _release(options):
    from assignments.release import MarkerError, release

    try:
        destination, replaced = release(options.destination, git_url=options.git_url)
    except (FileExistsError, MarkerError, ValueError) as error:
        print(f"python -m assignments release: error: {error}", file=sys.stderr)
        return 2
    for name, count in replaced.items():
        print(f"  {name}: {count} block(s) to write")
    print(f"Student copy written to {destination} ({sum(replaced.values())} blocks to write). Hand it out; "
          "`make check ASSIGNMENT=N` there shows what is left.")
    return 0


def _grade(options):
    from common.grading import GradeOptions, grade_paths

    if options.hidden_test and not Path(options.hidden_test).exists():
        print(f"python -m assignments grade: error: --hidden-test {options.hidden_test} does not exist; give the "
              "folder, CSV or .npz file of the hidden test cases.", file=sys.stderr)
        return 2
    grading = GradeOptions(assignment=options.assignment, allow_sample=options.allow_sample,
                           data_dir=None if options.no_rerun else options.data_dir, hidden_test=options.hidden_test)
    try:
        return grade_paths(options.paths, rubric_for, grading, options.out, options.csv)
    except FileNotFoundError as error:
        print(f"python -m assignments grade: error: {error}", file=sys.stderr)
        return 2


def _workflow(options):
    from assignments.workflow import WorkflowError, new_assignment, pack_submission

    try:
        if options.command == "new":
            folder = new_assignment(options.name, options.source)
            print(f"Created {folder}. Run it with: python -m assignments.{options.name} --smoke\n"
                  f"Its README says which parts to change; it imports only `common`, so it runs as it is.")
        else:
            archive = pack_submission(options.assignment, options.runs_dir, options.out, run=options.run)
            print(f"Packed {archive}. Check it as a grader would: make grade RUN={archive}")
    except WorkflowError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
