"""Grading a run folder against a rubric, from the evidence in the folder itself.

A ``Rubric`` lists the artefacts a submission must hold, the metric floors, and the rules. Each assignment
declares its own in ``assignments/<name>/rubric.py``; ``assignments`` finds the rubric of a run, and this
module only applies one. ``grade_folder(path, rubric)`` checks one run folder and returns a ``ScoreSheet``:
every item pass / fail / skip with its evidence (the number, the file). ``grade(path, rubric_for)`` does the
same for a run folder or a submission archive made by ``make submit``, asking ``rubric_for`` for the rubric
the run names. The grader never trusts the numbers in ``metrics.json``: every reported result is re-scored
from the saved predictions (``common.results``), and the floors are checked on the re-scored values, so a
hand-edited ``metrics.json`` fails the item it changed.

Nothing in a run folder can make the grader crash: a missing or unreadable file, an unknown assignment or
a tampered archive becomes a failed item in the score sheet.

    python -m assignments grade runs/a1_usps_fcnet/20261126-101500        # one run: grade.md + grade.json
    python -m assignments grade submissions/ --csv grades.csv             # every run / archive below a folder
"""

import dataclasses
import fnmatch
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from common.atomic import to_json_ready, write_json, write_text
from common.datasets.files import md5sum
from common.evaluate import evaluate_predictions
from common.report import markdown_table
from common.results import load_predictions, prediction_file, row_problems
from common.run import CONFIG_FILE, METRICS_FILE

PASS, FAIL, SKIP = "pass", "fail", "skip"
SUBMISSION_MANIFEST = "MANIFEST.json"
GRADE_FILES = ("grade.md", "grade.json")
# Re-scored metrics must agree with metrics.json to this many decimals (they are computed by the same code;
# the slack only covers float32 storage of the scores).
TOLERANCE = 1e-4


@dataclasses.dataclass(frozen=True)
class Floor:
    """A minimum for one metric of one model on one split, checked on the re-scored predictions."""

    model: str
    metric: str  # "accuracy", "auc", "balanced_accuracy" or "macro_f1"
    minimum: float
    split: str = "test"
    why: str = ""  # where the number comes from (a course reference, a published benchmark)


@dataclasses.dataclass(frozen=True)
class Rubric:
    """What a run of one assignment must contain and achieve.

    ``rules`` are extra checks written in the assignment's rubric module: functions taking the ``Evidence``
    of a run and returning ``(status, evidence_text)``; their docstring's first line names the item.
    """

    title: str
    tasks: tuple  # the evaluator's tasks a result row of this assignment may name (each row is re-scored as its own)
    artefacts: tuple  # glob patterns relative to the run folder, each must match at least one file
    floors: tuple = ()
    test_sizes: dict = dataclasses.field(default_factory=dict)  # split -> number of test labels on real data
    rules: tuple = ()


@dataclasses.dataclass
class Item:
    name: str
    status: str
    evidence: str


@dataclasses.dataclass
class Evidence:
    """What the grader read from a run folder; rubric rules inspect it."""

    path: Path
    config: dict | None = None
    metrics: dict | None = None
    rescored: dict = dataclasses.field(default_factory=dict)  # (model, split) -> evaluate_predictions dict


@dataclasses.dataclass
class ScoreSheet:
    run: str
    assignment: str
    items: list

    @property
    def passed(self):
        return sum(item.status == PASS for item in self.items)

    @property
    def failed(self):
        return sum(item.status == FAIL for item in self.items)

    @property
    def verdict(self):
        return PASS if self.failed == 0 and self.passed > 0 else FAIL

    def to_dict(self):
        return {"run": self.run, "assignment": self.assignment, "verdict": self.verdict,
                "score": f"{self.passed}/{self.passed + self.failed}",
                "items": [dataclasses.asdict(item) for item in self.items]}

    def to_markdown(self):
        table = markdown_table([dataclasses.asdict(item) for item in self.items],
                               {"status": "status", "name": "item", "evidence": "evidence"})
        return (f"# Score sheet: {self.assignment}\n\nRun: `{self.run}`\n\n"
                f"**Verdict: {self.verdict.upper()}** ({self.passed} passed, {self.failed} failed, "
                f"{len(self.items) - self.passed - self.failed} skipped)\n\n{table}\n\n"
                "Metrics are re-scored from the saved test predictions, not read from metrics.json.\n")


def rule_test_split_used_once(evidence):
    """Test split used only for the final evaluation."""
    reported = {(str(row.get("model")), str(row.get("split"))) for row in evidence.metrics.get("results") or []
                if isinstance(row, dict)}
    files = sorted((evidence.path / "predictions").glob("*.npz"))
    unreported = [path.name for path in files if not any(path.name == f"{model}_{split}.npz"
                                                        for model, split in reported)]
    if unreported:
        return FAIL, f"test predictions of models that are not reported results: {', '.join(unreported)}"
    return PASS, f"{len(files)} prediction file(s), one per reported result"


def chosen_on_validation(candidates, chosen, what):
    """``(status, evidence)`` for a selection rule: ``chosen`` must be the arg-max of ``candidates``
    (a mapping name -> validation score)."""
    if not candidates:
        return FAIL, f"no validation scores recorded for the {what}"
    best = max(candidates, key=candidates.get)
    scores = ", ".join(f"{name} {score:.4f}" for name, score in candidates.items())
    if chosen != best and candidates.get(chosen) != candidates[best]:
        return FAIL, f"chose {chosen!r} but {best!r} scored best on validation ({scores})"
    return PASS, f"chose {chosen!r}, the best on validation ({scores})"


def _read_json(path):
    try:
        return json.loads(Path(path).read_text()), None
    except FileNotFoundError:
        return None, f"{Path(path).name} is missing"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, f"{Path(path).name} is unreadable: {error}"


def assignment_of(run_path):
    """The assignment a run folder names in its ``metrics.json``, else its parent folder's name
    (``runs/<assignment>/<timestamp>``)."""
    run_path = Path(run_path)
    metrics, _ = _read_json(run_path / METRICS_FILE)
    if isinstance(metrics, dict) and isinstance(metrics.get("assignment"), str):
        return metrics["assignment"]
    return run_path.parent.name


def _check_artefacts(run_path, rubric):
    files = [str(path.relative_to(run_path)) for path in run_path.rglob("*") if path.is_file()]
    items = []
    for pattern in rubric.artefacts:
        matches = [name for name in files if fnmatch.fnmatch(name, pattern)]
        items.append(Item(f"artefact {pattern}", PASS if matches else FAIL,
                          f"{len(matches)} file(s), e.g. {matches[0]}" if matches else "no such file"))
    return items


def _rescore_rows(evidence, rubric):
    """One item per reported result: re-score its saved predictions, as the task the row names, and compare with
    metrics.json. A run can score several tasks (assignment 4 scores a binary 3D set and a multi-class or
    multi-label 2D set), so each row carries its own."""
    items, labels_by_split = [], {}
    rows = evidence.metrics.get("results") if isinstance(evidence.metrics, dict) else None
    if not isinstance(rows, list) or not rows:
        return [Item("results reported", FAIL, f"{METRICS_FILE} has no 'results' list")], labels_by_split
    for row in rows:
        problems = row_problems(row)
        name = f"re-score {row.get('model')} on {row.get('split')}" if isinstance(row, dict) else "result row"
        if problems:
            items.append(Item(name, FAIL, f"the row in {METRICS_FILE} {'; '.join(problems)}"))
            continue
        model, split, task = str(row["model"]), str(row["split"]), row["task"]
        if task not in rubric.tasks:
            items.append(Item(name, FAIL, f"{METRICS_FILE} gives task {task!r}; this assignment's results are "
                                          f"{' or '.join(rubric.tasks)}"))
            continue
        path = prediction_file(evidence.path, model, split)
        try:
            y_true, y_score, class_names = load_predictions(path)
            scored = evaluate_predictions(y_true, y_score, task, class_names or None)
        except FileNotFoundError:
            items.append(Item(name, FAIL, f"predictions/{path.name} is missing"))
            continue
        except Exception as error:  # noqa: BLE001 (a damaged file raises zlib, zip, OS or value errors; all fail)
            items.append(Item(name, FAIL, f"predictions/{path.name} cannot be scored: {type(error).__name__}: "
                                          f"{error}"))
            continue
        evidence.rescored[(model, split)] = scored
        labels_by_split.setdefault(split, []).append((model, y_true))
        differences = []
        for metric in ("accuracy", "auc"):
            reported, actual = row.get(metric), scored.get(metric)
            if actual is None and reported is None:
                continue
            if not isinstance(reported, int | float) or actual is None or abs(reported - actual) > TOLERANCE:
                differences.append(f"{metric}: metrics.json says {reported!r}, predictions give {actual!r}")
        items.append(Item(name, FAIL if differences else PASS,
                          "; ".join(differences) if differences else
                          f"accuracy {scored['accuracy']:.4f}, AUC {_format(scored['auc'])} "
                          f"on {scored['num_samples']} samples, as reported"))
    return items, labels_by_split


def _format(value):
    return "n/a" if value is None else f"{value:.4f}"


def _check_test_labels(labels_by_split, rubric, sample):
    """Every model scored on the same labels, and (on real data) on the whole official test split."""
    items = []
    for split, entries in labels_by_split.items():
        first_model, first = entries[0]
        differing = [model for model, labels in entries[1:] if not np.array_equal(labels, first)]
        items.append(Item(f"same {split} labels for every model", FAIL if differing else PASS,
                          f"{', '.join(differing)} scored on other labels than {first_model}" if differing else
                          f"{len(entries)} model(s), {len(first)} labels"))
        expected = rubric.test_sizes.get(split)
        if expected is not None:
            if sample:
                items.append(Item(f"whole {split} split scored", SKIP,
                                  "sample data: the real split size does not apply"))
            else:
                items.append(Item(f"whole {split} split scored", PASS if len(first) == expected else FAIL,
                                  f"{len(first)} labels (the official {split} split has {expected})"))
    return items


def _check_seed(evidence):
    config_seed = evidence.config.get("seed") if isinstance(evidence.config, dict) else None
    metrics_seed = evidence.metrics.get("seed") if isinstance(evidence.metrics, dict) else None
    if not isinstance(config_seed, int):
        return Item("seed recorded", FAIL, f"config.json has no integer seed ({config_seed!r})")
    if metrics_seed != config_seed:
        return Item("seed recorded", FAIL, f"config.json seed {config_seed} but metrics.json seed {metrics_seed!r}")
    return Item("seed recorded", PASS, f"seed {config_seed} in config.json and metrics.json")


def _check_floors(evidence, rubric, sample, allow_sample):
    items = []
    for floor in rubric.floors:
        name = f"{floor.model} {floor.split} {floor.metric} >= {floor.minimum}"
        scored = evidence.rescored.get((floor.model, floor.split))
        if sample and allow_sample:
            items.append(Item(name, SKIP, "sample data: floors apply to the real data set"))
        elif scored is None:
            items.append(Item(name, FAIL, f"no re-scorable {floor.split} result for {floor.model}"))
        else:
            value = scored.get(floor.metric)
            ok = value is not None and value >= floor.minimum
            why = f" ({floor.why})" if floor.why else ""
            items.append(Item(name, PASS if ok else FAIL, f"re-scored {floor.metric} {_format(value)}{why}"))
    return items


def grade_folder(run_path, rubric, name, allow_sample=False):
    """Grade one run folder of assignment ``name`` against ``rubric``; returns a ``ScoreSheet`` (never raises for
    problems in the folder)."""
    run_path = Path(run_path)
    metrics, metrics_problem = _read_json(run_path / METRICS_FILE)
    config, config_problem = _read_json(run_path / CONFIG_FILE)
    evidence = Evidence(run_path, config if isinstance(config, dict) else None,
                        metrics if isinstance(metrics, dict) else None)
    items = [Item("assignment known", PASS, f"{name}: {rubric.title}")]
    items += _check_artefacts(run_path, rubric)
    items.append(Item("config.json readable", FAIL if config_problem else PASS, config_problem or "read"))
    if metrics_problem or not isinstance(metrics, dict):
        items.append(Item(f"{METRICS_FILE} readable", FAIL, metrics_problem or "not a JSON object"))
        return ScoreSheet(str(run_path), name, items)
    items.append(Item(f"{METRICS_FILE} readable", PASS, f"{len(metrics.get('results') or [])} result rows"))
    data = metrics.get("data") if isinstance(metrics.get("data"), dict) else {}
    sample = bool(data.get("sample", True))
    if sample:
        items.append(Item("real data", SKIP if allow_sample else FAIL,
                          f"the run used sample data ({data.get('title', 'unknown')}); "
                          + ("graded with --allow-sample" if allow_sample else "a submission must use the real data")))
    else:
        items.append(Item("real data", PASS, str(data.get("title", "real data"))))
    items.append(_check_seed(evidence))
    items += _check_model_files(evidence)
    rescore_items, labels_by_split = _rescore_rows(evidence, rubric)
    items += rescore_items
    items += _check_test_labels(labels_by_split, rubric, sample)
    items += _check_floors(evidence, rubric, sample, allow_sample)
    for rule in rubric.rules:
        rule_name = (rule.__doc__ or rule.__name__).strip().splitlines()[0].rstrip(".")
        try:
            status, text = rule(evidence)
        except Exception as error:  # noqa: BLE001 (nothing in a submission may crash the grader)
            status, text = FAIL, f"the evidence is incomplete or damaged: {type(error).__name__}: {error}"
        items.append(Item(rule_name, status, text))
    return ScoreSheet(str(run_path), name, items)


def _check_model_files(evidence):
    """Every result row's model file exists and is a Keras archive (a zip file)."""
    model_files = sorted({row.get("model_file") for row in evidence.metrics.get("results") or []
                          if isinstance(row, dict) and row.get("model_file")})
    if not model_files:
        return [Item("model files", FAIL, "no result row names a model_file")]
    items = []
    for relative in model_files:
        path = evidence.path / relative
        ok = path.is_file() and zipfile.is_zipfile(path)
        items.append(Item(f"model file {relative}", PASS if ok else FAIL,
                          f"{path.stat().st_size / 1e6:.2f} MB Keras archive" if ok else
                          ("missing" if not path.exists() else "not a Keras (.keras zip) file")))
    return items


def _check_archive(root):
    """A submission archive's manifest lists every file with its MD5; any difference means it was edited."""
    manifest, problem = _read_json(root / SUBMISSION_MANIFEST)
    if problem or not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return None, Item("archive manifest", FAIL, problem or "MANIFEST.json has no 'files' mapping")
    changed = [name for name, md5 in manifest["files"].items()
               if not (root / name).is_file() or md5sum(root / name) != md5]
    present = {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}
    extra = sorted(present - set(manifest["files"]) - {SUBMISSION_MANIFEST})
    if changed or extra:
        return manifest, Item("archive manifest", FAIL,
                              f"changed or missing: {', '.join(changed[:5]) or 'none'}; not listed: "
                              f"{', '.join(extra[:5]) or 'none'}")
    return manifest, Item("archive manifest", PASS, f"{len(manifest['files'])} files match their MD5s")


def grade_archive(archive, rubric_for, assignment=None, allow_sample=False):
    """Grade a submission archive made by ``make submit`` (code + run folder + manifest); ``rubric_for`` as for
    ``grade``."""
    archive = Path(archive)
    with tempfile.TemporaryDirectory(prefix="grade-") as temporary:
        root = Path(temporary)
        try:
            with zipfile.ZipFile(archive) as bundle:
                unsafe = [name for name in bundle.namelist() if name.startswith("/") or ".." in Path(name).parts]
                if unsafe:
                    raise zipfile.BadZipFile(f"unsafe paths in the archive: {unsafe[:3]}")
                bundle.extractall(root)
        except (OSError, zipfile.BadZipFile) as error:
            return ScoreSheet(str(archive), str(assignment or "unknown"),
                              [Item("archive readable", FAIL, f"{archive.name}: {error}")])
        manifest, manifest_item = _check_archive(root)
        runs = sorted(path for path in (root / "run").glob("*") if path.is_dir())
        if len(runs) != 1:
            return ScoreSheet(str(archive), str(assignment or "unknown"),
                              [manifest_item, Item("run folder in archive", FAIL, f"found {len(runs)} under run/")])
        name = assignment or (manifest or {}).get("rubric") or (manifest or {}).get("assignment")
        sheet = _grade_named(runs[0], rubric_for, name or assignment_of(runs[0]), allow_sample)
        sheet.run = f"{archive}:{runs[0].name}"
        sheet.items.insert(0, manifest_item)
        return sheet


def find_runs(path):
    """Run folders and submission archives at or below ``path`` (a run folder holds config.json or
    metrics.json); grading output files are ignored."""
    path = Path(path)
    if path.is_file():
        return [path]
    if (path / "config.json").exists() or (path / METRICS_FILE).exists():
        return [path]
    found = []
    for child in sorted(path.iterdir()) if path.is_dir() else []:
        if child.is_dir():
            found += find_runs(child)
        elif child.suffix == ".zip":
            found.append(child)
    return found


def _grade_named(run_path, rubric_for, name, allow_sample):
    try:
        name, rubric = rubric_for(name)
    except LookupError as error:
        return ScoreSheet(str(run_path), str(name), [Item("assignment known", FAIL, str(error))])
    return grade_folder(run_path, rubric, name, allow_sample)


def grade(path, rubric_for, assignment=None, allow_sample=False):
    """Grade a run folder or a ``.zip`` submission.

    Args:
        path: a run folder or a submission archive.
        rubric_for: a function ``name -> (assignment name, Rubric)`` for the assignment a run names (or
            ``assignment``); it raises ``LookupError`` for an unknown one, which becomes a failed item.
        assignment: grade with this assignment's rubric instead of the one the run names (a renamed copy).
        allow_sample: a sample-data run (a demo) skips the "real data" item and the floors.
    """
    path = Path(path)
    if path.is_file():
        return grade_archive(path, rubric_for, assignment, allow_sample)
    return _grade_named(path, rubric_for, assignment or assignment_of(path), allow_sample)


def write_score_sheet(sheet, folder, stem="grade"):
    """Write ``<stem>.md`` and ``<stem>.json`` into ``folder``; returns the Markdown path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / f"{stem}.json", to_json_ready(sheet.to_dict()))
    write_text(folder / f"{stem}.md", sheet.to_markdown())
    return folder / f"{stem}.md"


def _csv_path(requested, count):
    if requested:
        return Path(requested)
    if count < 2:
        return None
    path, number = Path("grades.csv"), 2
    while path.exists():  # an earlier sheet is the grader's record; keep it
        path, number = Path(f"grades-{number}.csv"), number + 1
    return path


def write_csv(sheets, path):
    """One line per graded run: submission, assignment, verdict, score and the failed items."""
    import csv

    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", "assignment", "verdict", "score", "failed_items"])
        for sheet in sheets:
            summary = sheet.to_dict()
            writer.writerow([sheet.run, sheet.assignment, summary["verdict"], summary["score"],
                             "; ".join(f"{item.name}: {item.evidence}" for item in sheet.items if item.status == FAIL)])
    return path


def grade_paths(paths, rubric_for, assignment=None, allow_sample=False, out=None, csv=None):
    """Grade every run folder and archive at or below ``paths``; write each score sheet (into the run folder,
    beside the archive, or into ``out``), print one line per run and its failed items, and write the CSV
    (``csv``, or grades.csv for several runs). Returns the exit status: 0 when every run passed.

    Raises:
        FileNotFoundError: a path does not exist, or no run folder or archive was found (the message says what
            a run folder is).
    """
    runs = [run for path in paths for run in find_runs(path)]
    missing = [str(path) for path in paths if not Path(path).exists()]
    if missing or not runs:
        raise FileNotFoundError(f"no run folder or submission archive found in {', '.join(missing or map(str, paths))}"
                                "; a run folder is runs/<assignment>/<timestamp>/ (it holds config.json and "
                                "metrics.json)")
    sheets = []
    for run in runs:
        sheet = grade(run, rubric_for, assignment, allow_sample)
        sheets.append(sheet)
        if out:
            target = write_score_sheet(sheet, out, stem=f"{Path(run).parent.name}-{Path(run).stem}.grade")
        elif Path(run).is_file():
            target = write_score_sheet(sheet, Path(run).parent, stem=f"{Path(run).stem}.grade")
        else:
            target = write_score_sheet(sheet, run)
        summary = sheet.to_dict()
        print(f"{summary['verdict'].upper():<4} {summary['score']:>6}  {run}  -> {target}")
        for item in sheet.items:
            if item.status == FAIL:
                print(f"       fail: {item.name}: {item.evidence}")
    csv_path = _csv_path(csv, len(sheets))
    if csv_path:
        print(f"score table: {write_csv(sheets, csv_path)}")
    return 0 if all(sheet.verdict == PASS for sheet in sheets) else 1
