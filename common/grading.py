"""Grading a run folder against a rubric, from evidence the grader makes itself.

A ``Rubric`` lists the artefacts a submission must hold, the metric floors, the rules, the fingerprints of the
official test labels, and how the instructor's copy of the assignment rebuilds a run's test data. Each
assignment declares its own in ``assignments/<name>/rubric.py``; ``assignments`` finds the rubric of a run,
and this module only applies one. ``grade_folder(path, rubric)`` checks one run folder and returns a
``ScoreSheet``: every item pass / fail / skip with its evidence (the number, the file).
``grade(path, rubric_for)`` does the same for a run folder or a submission archive made by ``make submit``.

What the grader trusts (``common.rerun``):

- nothing in ``metrics.json`` as a result: every row is re-scored from its prediction file, and the file's
  labels must hash to the rubric's fingerprint of the official test labels;
- where the data is at hand (``DATA_DIR``), not even the prediction files: each submitted model is loaded and
  predicts the test split, made by the instructor's preprocessing; the saved scores must be what it gives, and
  the floors are checked on the grader's own predictions;
- ``hidden_test``: every submitted model is also scored on the instructor's test cases, which no student saw.

The archive's ``MANIFEST.json`` is an inventory (it catches a damaged or incomplete archive), not a proof: a
student can recompute it. What cannot be forged is what the grader computes itself.

Nothing in a run folder can make the grader crash: a missing or unreadable file, a model that will not load,
an unknown assignment or an archive that is not a zip becomes a failed item in the score sheet.

    python -m assignments grade runs/a1_usps_fcnet/20261126-101500        # one run: grade.md + grade.json
    python -m assignments grade submissions/ --csv grades.csv             # every run / archive below a folder
    python -m assignments grade submissions/ --hidden-test /course/hidden_test   # plus the hidden test set
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
from common.rerun import DataNotAtHand, ModelRunner, check_fingerprint, compare_scores
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
    """What a run of one assignment must contain and achieve, and how the grader rebuilds its test data.

    ``rules`` are extra checks written in the assignment's rubric module: functions taking the ``Evidence``
    of a run and returning ``(status, evidence_text)``; their docstring's first line names the item.

    ``test_sets(config, metrics, data_dir)`` rebuilds a run's test data from its ``config.json`` (a dict; the
    metrics give preprocessing the run chose, such as a normalisation) with the instructor's code:
    {(dataset, split): ``common.rerun.TestSet``}, keyed like the result rows; it raises
    ``common.rerun.DataNotAtHand`` when the data is not on this machine. ``hidden_test(config, metrics, path)``
    reads the instructor's hidden test cases at ``path`` for a run: {dataset: TestSet}, each scored with every model
    whose result rows name that dataset (the key None: every model of the run).
    """

    title: str
    tasks: tuple  # the evaluator's tasks a result row of this assignment may name (each row is re-scored as its own)
    artefacts: tuple  # glob patterns relative to the run folder, each must match at least one file
    floors: tuple = ()
    rules: tuple = ()
    fingerprints: dict = dataclasses.field(default_factory=dict)  # (dataset, split) -> common.rerun.Fingerprint
    # True where the data has an official test split (its labels must be verified); False for the user's own data.
    official_split: bool = True
    test_sets: object = None
    hidden_test: object = None


@dataclasses.dataclass(frozen=True)
class GradeOptions:
    """How to grade: the rubric of ``assignment`` instead of the one a run names (a renamed copy);
    ``allow_sample`` lets a sample-data run (a demo) skip the "real data" item and the floors; ``data_dir``
    holds the data the re-run predicts (None: no re-run); ``hidden_test`` is the instructor's test set."""

    assignment: str | None = None
    allow_sample: bool = False
    data_dir: str | None = None
    hidden_test: str | None = None


@dataclasses.dataclass
class Item:
    name: str
    status: str
    evidence: str


@dataclasses.dataclass
class Evidence:
    """What the grader read from a run folder, and what it computed itself; rubric rules inspect it."""

    path: Path
    config: dict | None = None
    metrics: dict | None = None
    # (model, split) -> evaluate_predictions dict: of the grader's own predictions where it re-ran the model,
    # else of the saved predictions
    rescored: dict = dataclasses.field(default_factory=dict)
    saved: dict = dataclasses.field(default_factory=dict)  # (model, split) -> (row, y_true, y_score, class names)
    verified_labels: set = dataclasses.field(default_factory=set)  # (dataset, split) whose labels the re-run checked
    hidden: list = dataclasses.field(default_factory=list)  # one dict per model scored on the hidden test set


@dataclasses.dataclass
class ScoreSheet:
    run: str
    assignment: str
    items: list
    hidden: list = dataclasses.field(default_factory=list)  # hidden-test rows: model, dataset, cases, metrics

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
                "items": [dataclasses.asdict(item) for item in self.items], "hidden_test": self.hidden}

    def to_markdown(self):
        table = markdown_table([dataclasses.asdict(item) for item in self.items],
                               {"status": "status", "name": "item", "evidence": "evidence"})
        hidden = ""
        if self.hidden:
            hidden = ("\n## Hidden test set\n\n" + markdown_table(
                [{**row, "auc": _format(row["auc"]), "accuracy": _format(row["accuracy"]),
                  "balanced_accuracy": _format(row["balanced_accuracy"])} for row in self.hidden],
                {"model": "model", "dataset": "data set", "cases": "cases", "accuracy": "accuracy",
                 "balanced_accuracy": "balanced accuracy", "auc": "AUC"}) + "\n")
        return (f"# Score sheet: {self.assignment}\n\nRun: `{self.run}`\n\n"
                f"**Verdict: {self.verdict.upper()}** ({self.passed} passed, {self.failed} failed, "
                f"{len(self.items) - self.passed - self.failed} skipped)\n\n{table}\n{hidden}\n"
                "Metrics are re-scored by the grader: from its own predictions of each submitted model where the "
                "test data was at hand, else from the saved predictions, whose labels must be the official ones. "
                "Nothing is read from metrics.json as a result.\n")


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


def chosen_on_validation(candidates, chosen, what, lower_is_better=False):
    """``(status, evidence)`` for a selection rule: ``chosen`` must be the best of ``candidates`` (a mapping name
    -> validation score, shown as it is): the highest, or the lowest when ``lower_is_better`` (an error)."""
    if not candidates:
        return FAIL, f"no validation scores recorded for the {what}"
    best = (min if lower_is_better else max)(candidates, key=candidates.get)
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
    multi-label 2D set), so each row carries its own. Fills ``evidence.saved`` and ``evidence.rescored``."""
    items = []
    rows = evidence.metrics.get("results") if isinstance(evidence.metrics, dict) else None
    if not isinstance(rows, list) or not rows:
        return [Item("results reported", FAIL, f"{METRICS_FILE} has no 'results' list")]
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
            scored = evaluate_predictions(y_true, y_score, task, class_names or None, threshold=_threshold(row))
        except FileNotFoundError:
            items.append(Item(name, FAIL, f"predictions/{path.name} is missing"))
            continue
        except Exception as error:  # noqa: BLE001 (a damaged file raises zlib, zip, OS or value errors; all fail)
            items.append(Item(name, FAIL, f"predictions/{path.name} cannot be scored: {type(error).__name__}: "
                                          f"{error}"))
            continue
        evidence.rescored[(model, split)] = scored
        evidence.saved[(model, split)] = (row, y_true, y_score, class_names)
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
                          f"on {scored['num_samples']} {'images' if task == 'segmentation' else 'samples'}, "
                          "as reported"))
    return items


def _threshold(row):
    """The decision threshold a binary row was scored at (chosen on validation; see ``common.results``), or None."""
    value = row.get("threshold") if row.get("task") == "binary" else None
    return float(value) if isinstance(value, int | float) and 0.0 <= value <= 1.0 else None


def _format(value):
    return "n/a" if value is None else f"{value:.4f}"


def _is_sample(evidence):
    """A run on sample data: by its own flag, or by a result row that names a sample data set."""
    data = evidence.metrics.get("data") if isinstance(evidence.metrics.get("data"), dict) else {}
    rows = [row for row in evidence.metrics.get("results") or [] if isinstance(row, dict)]
    return bool(data.get("sample", True)) or any("sample" in str(row.get("dataset", "")) for row in rows)


def _check_test_labels(evidence, rubric, sample):
    """Every model scored on the same labels, and those labels the official test labels: by the rubric's
    fingerprint, or by the grader's own labels where it re-ran the models."""
    groups = {}
    for (model, split), (row, y_true, _, _) in evidence.saved.items():
        groups.setdefault((str(row.get("dataset")), split), []).append((model, y_true))
    items = []
    for (dataset, split), entries in groups.items():
        first_model, first = entries[0]
        differing = [model for model, labels in entries[1:] if not np.array_equal(labels, first)]
        items.append(Item(f"same {split} labels for every model", FAIL if differing else PASS,
                          f"{', '.join(differing)} scored on other labels than {first_model}" if differing else
                          f"{len(entries)} model(s), {len(first)} labels"))
        name = f"official labels of {dataset} {split}"
        fingerprint = rubric.fingerprints.get((dataset, split))
        if fingerprint is not None:
            ok, text = check_fingerprint(first, fingerprint)
            items.append(Item(name, PASS if ok else FAIL, text))
        elif (dataset, split) in evidence.verified_labels:
            items.append(Item(name, PASS, "the grader's own labels, from the data (see the re-run items)"))
        elif sample:
            items.append(Item(name, SKIP, "sample data: checked by the re-run where the sample data is at hand"))
        elif rubric.official_split:
            items.append(Item(name, FAIL, f"the rubric has no fingerprint of {dataset!r} {split} and the data was "
                                          "not at hand to re-run the models; set DATA_DIR to the official data"))
        else:
            items.append(Item(name, SKIP, "the user's own data: the labels are checked by the re-run where the data "
                                          "is at hand, or by grading on the hidden test set"))
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


def _model_path(evidence, row):
    """The row's model file inside the run folder, or None (a baseline has none; a path outside is refused)."""
    relative = row.get("model_file")
    if not relative:
        return None
    path = (evidence.path / str(relative)).resolve()
    if not path.is_relative_to(evidence.path.resolve()):
        raise ValueError(f"model_file {relative!r} points outside the run folder")
    return path


def _load_test_sets(make_sets, evidence, argument, what):
    """(test sets, None) from a rubric's ``test_sets`` or ``hidden_test``, or (None, Item) saying why not."""
    if make_sets is None:
        return None, Item(what, FAIL, "this assignment's rubric cannot rebuild its test data")
    if not isinstance(evidence.config, dict):
        return None, Item(what, FAIL, "config.json is unreadable: the grader cannot rebuild the run's test data")
    try:
        return make_sets(evidence.config, evidence.metrics, argument), None
    except DataNotAtHand as error:
        return None, Item(what, SKIP, str(error))
    except Exception as error:  # noqa: BLE001 (a forged or damaged config.json may fail anywhere in the loaders)
        return None, Item(what, FAIL, f"cannot read the test data for this run: {type(error).__name__}: {error}")


def _rerun(evidence, rubric, data_dir, runner):
    """Predict the test data with every submitted model and check the saved labels and scores against the
    grader's; the grader's predictions replace the saved ones for the floors."""
    sets, problem = _load_test_sets(rubric.test_sets, evidence, data_dir, "re-run on the test data")
    if problem:
        return [problem]
    items = []
    for (model, split), (row, y_true, y_score, _) in evidence.saved.items():
        name, dataset = f"re-run {model} on {split}", str(row.get("dataset"))
        test = sets.get((dataset, split))
        if test is None:
            known = ", ".join(f"{key[0]} {key[1]}" for key in sets) or "none"
            items.append(Item(name, FAIL, f"the run's config.json gives no {split} split of {dataset!r} (it gives "
                                          f"{known})"))
            continue
        try:
            path = _model_path(evidence, row)
            if path is None:
                items.append(Item(name, SKIP, "no model file: a baseline, whose scores are not a model's"))
                continue
            scores = runner.predict(path, test.inputs, test.predict)
        except Exception as error:  # noqa: BLE001 (a missing, damaged or foreign model file fails this item)
            items.append(Item(name, FAIL, f"model file {row.get('model_file')} cannot predict the test data: "
                                          f"{type(error).__name__}: {str(error)[:200]}"))
            continue
        labels_ok = np.shape(y_true) == np.shape(test.y_true) and np.array_equal(y_true, test.y_true)
        scores_ok, text = compare_scores(y_score, scores, test.tolerance)
        if labels_ok:
            evidence.verified_labels.add((dataset, split))
        else:
            text = f"the saved labels are not the test labels of {test.source}; {text}"
        evidence.rescored[(model, split)] = evaluate_predictions(test.y_true, scores, test.task,
                                                                 test.class_names or None, threshold=_threshold(row))
        items.append(Item(name, PASS if labels_ok and scores_ok else FAIL, f"{text}; {len(test.y_true)} cases"))
    return items


def _hidden_test(evidence, rubric, path, runner):
    """Score every submitted model on the instructor's hidden test set; one item per model."""
    sets, problem = _load_test_sets(rubric.hidden_test, evidence, path, "hidden test set")
    if problem:
        return [Item(problem.name, FAIL, f"{path}: {problem.evidence}")]
    items, scored = [], set()
    for row, *_ in evidence.saved.values():
        dataset, model = str(row.get("dataset")), str(row.get("model"))
        test = sets.get(dataset, sets.get(None))
        if test is None or (model, dataset) in scored:
            continue
        scored.add((model, dataset))
        name = f"hidden test: {model}"
        try:
            model_path = _model_path(evidence, row)
            if model_path is None:
                continue
            metrics = evaluate_predictions(test.y_true, runner.predict(model_path, test.inputs, test.predict),
                                           test.task, test.class_names or None, threshold=_threshold(row))
        except Exception as error:  # noqa: BLE001
            items.append(Item(name, FAIL, f"cannot score {row.get('model_file')} on {path}: "
                                          f"{type(error).__name__}: {str(error)[:200]}"))
            continue
        row = {"model": model, "dataset": dataset, "cases": metrics["num_samples"], "accuracy": metrics["accuracy"],
               "balanced_accuracy": metrics["balanced_accuracy"], "auc": metrics["auc"]}
        if "mean_dice" in metrics:
            row["dice"] = metrics["mean_dice"]
        evidence.hidden.append(row)
        dice = f", mean Dice {_format(row['dice'])}" if "dice" in row else ""
        items.append(Item(name, PASS, f"accuracy {metrics['accuracy']:.4f}, balanced accuracy "
                                      f"{_format(metrics['balanced_accuracy'])}, AUC {_format(metrics['auc'])}{dice} "
                                      f"({test.source})"))
    if not items:
        items.append(Item("hidden test set", FAIL, f"{path}: no submitted model takes these cases "
                                                   f"(data sets {', '.join(map(str, sets)) or 'none'})"))
    return items


def grade_folder(run_path, rubric, name, options=GradeOptions(), runner=None):
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
    sample = _is_sample(evidence)
    data = metrics.get("data") if isinstance(metrics.get("data"), dict) else {}
    if sample:
        items.append(Item("real data", SKIP if options.allow_sample else FAIL,
                          f"the run used sample data ({data.get('title', 'unknown')}); "
                          + ("graded with --allow-sample" if options.allow_sample
                             else "a submission must use the real data")))
    else:
        items.append(Item("real data", PASS, str(data.get("title", "real data"))))
    items.append(_check_seed(evidence))
    items += _check_model_files(evidence)
    items += _rescore_rows(evidence, rubric)
    runner = runner or ModelRunner()
    if options.data_dir is not None:
        items += _rerun(evidence, rubric, options.data_dir, runner)
    items += _check_test_labels(evidence, rubric, sample)
    items += _check_floors(evidence, rubric, sample, options.allow_sample)
    for rule in rubric.rules:
        rule_name = (rule.__doc__ or rule.__name__).strip().splitlines()[0].rstrip(".")
        try:
            status, text = rule(evidence)
        except Exception as error:  # noqa: BLE001 (nothing in a submission may crash the grader)
            status, text = FAIL, f"the evidence is incomplete or damaged: {type(error).__name__}: {error}"
        items.append(Item(rule_name, status, text))
    if options.hidden_test:
        items += _hidden_test(evidence, rubric, options.hidden_test, runner)
    return ScoreSheet(str(run_path), name, items, evidence.hidden)


def _check_model_files(evidence):
    """Every result row's model file exists and is a Keras archive (a zip file)."""
    model_files = sorted({str(row.get("model_file")) for row in evidence.metrics.get("results") or []
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
    """A submission archive's inventory: the manifest lists every file with its MD5. It catches a damaged or
    incomplete archive; it proves nothing about honesty (anyone can recompute it); the re-run does that."""
    manifest, problem = _read_json(root / SUBMISSION_MANIFEST)
    if problem or not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return None, Item("archive inventory", FAIL, problem or "MANIFEST.json has no 'files' mapping")
    changed = [name for name, md5 in manifest["files"].items()
               if not (root / name).is_file() or md5sum(root / name) != md5]
    present = {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}
    extra = sorted(present - set(manifest["files"]) - {SUBMISSION_MANIFEST})
    if changed or extra:
        return manifest, Item("archive inventory", FAIL,
                              f"changed or missing: {', '.join(changed[:5]) or 'none'}; not listed: "
                              f"{', '.join(extra[:5]) or 'none'}")
    return manifest, Item("archive inventory", PASS, f"{len(manifest['files'])} files, as listed in MANIFEST.json")


def grade_archive(archive, rubric_for, options=GradeOptions(), runner=None):
    """Grade a submission archive made by ``make submit`` (code + run folder + manifest); see ``grade``."""
    archive = Path(archive)
    unknown = str(options.assignment or "unknown")
    with tempfile.TemporaryDirectory(prefix="grade-") as temporary:
        root = Path(temporary)
        try:
            with zipfile.ZipFile(archive) as bundle:
                unsafe = [name for name in bundle.namelist() if name.startswith("/") or ".." in Path(name).parts]
                if unsafe:
                    raise zipfile.BadZipFile(f"unsafe paths in the archive: {unsafe[:3]}")
                bundle.extractall(root)
        except (OSError, zipfile.BadZipFile, ValueError, EOFError) as error:
            return ScoreSheet(str(archive), unknown, [Item("archive readable", FAIL, f"{archive.name}: {error}")])
        manifest, manifest_item = _check_archive(root)
        runs = sorted(path for path in (root / "run").glob("*") if path.is_dir())
        if len(runs) != 1:
            return ScoreSheet(str(archive), unknown,
                              [manifest_item, Item("run folder in archive", FAIL, f"found {len(runs)} under run/")])
        name = options.assignment or (manifest or {}).get("rubric") or (manifest or {}).get("assignment")
        sheet = _grade_named(runs[0], rubric_for, str(name or assignment_of(runs[0])), options, runner)
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


def _grade_named(run_path, rubric_for, name, options, runner):
    try:
        name, rubric = rubric_for(name)
    except LookupError as error:
        return ScoreSheet(str(run_path), str(name), [Item("assignment known", FAIL, str(error))])
    return grade_folder(run_path, rubric, name, options, runner)


def grade(path, rubric_for, options=GradeOptions(), runner=None):
    """Grade a run folder or a ``.zip`` submission.

    Args:
        path: a run folder or a submission archive.
        rubric_for: a function ``name -> (assignment name, Rubric)`` for the assignment a run names (or
            ``options.assignment``); it raises ``LookupError`` for an unknown one, which becomes a failed item.
        options: a ``GradeOptions``.
        runner: a ``common.rerun.ModelRunner`` to share loaded models between calls.
    """
    path = Path(path)
    if path.is_file():
        return grade_archive(path, rubric_for, options, runner)
    return _grade_named(path, rubric_for, str(options.assignment or assignment_of(path)), options, runner)


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
    """One line per graded run: submission, assignment, verdict, score, the failed items and, for a hidden test
    set, each model's accuracy and AUC on it (a column pair per model name)."""
    import csv

    hidden_models = list(dict.fromkeys(row["model"] for sheet in sheets for row in sheet.hidden))
    metrics = ("accuracy", "auc", *(("dice",) if any("dice" in row for sheet in sheets for row in sheet.hidden)
                                    else ()))
    header = ["submission", "assignment", "verdict", "score", "failed_items"]
    header += [f"hidden_{model}_{metric}" for model in hidden_models for metric in metrics]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for sheet in sheets:
            summary = sheet.to_dict()
            hidden = {row["model"]: row for row in sheet.hidden}
            writer.writerow([sheet.run, sheet.assignment, summary["verdict"], summary["score"],
                             "; ".join(f"{item.name}: {item.evidence}" for item in sheet.items if item.status == FAIL)]
                            + [_csv_number(hidden.get(model, {}).get(metric)) for model in hidden_models
                               for metric in metrics])
    return path


def _csv_number(value):
    return "" if value is None else f"{value:.4f}"


def _grade_safely(run, rubric_for, options):
    """``grade``, with anything it did not foresee turned into a failed item, so one submission never stops a
    batch."""
    try:
        return grade(run, rubric_for, options)
    except Exception as error:  # noqa: BLE001
        return ScoreSheet(str(run), str(options.assignment or "unknown"),
                          [Item("graded", FAIL, f"the grader could not grade this: {type(error).__name__}: {error}")])


def grade_paths(paths, rubric_for, options=GradeOptions(), out=None, csv=None):
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
        sheet = _grade_safely(run, rubric_for, options)
        sheets.append(sheet)
        if out:
            folder, stem = out, f"{Path(run).parent.name}-{Path(run).stem}.grade"
        elif Path(run).is_file():
            folder, stem = Path(run).parent, f"{Path(run).stem}.grade"
        else:
            folder, stem = run, "grade"
        try:
            target = write_score_sheet(sheet, folder, stem)
        except OSError as error:
            target = f"(score sheet not written: {error})"
        summary = sheet.to_dict()
        print(f"{summary['verdict'].upper():<4} {summary['score']:>6}  {run}  -> {target}")
        for item in sheet.items:
            if item.status == FAIL:
                print(f"       fail: {item.name}: {item.evidence}")
    csv_path = _csv_path(csv, len(sheets))
    if csv_path:
        print(f"score table: {write_csv(sheets, csv_path)}")
    return 0 if all(sheet.verdict == PASS for sheet in sheets) else 1
