"""Configuration objects for assignments: one dataclass per assignment, overridable from the command line.

An assignment declares its hyper-parameters once, as a dataclass whose fields carry commented defaults,
subclassing ``RunConfig`` for the options every run shares (data location, seed, strategy, ...)::

    @dataclass
    class A1Config(RunConfig):
        epochs: int = 60  # upper bound; early stopping usually ends sooner

``parse_config(A1Config, argv, smoke=SMOKE)`` turns every field into a ``--flag`` (``epochs`` ->
``--epochs``, ``hidden_units`` -> ``--hidden-units``), rejects unknown or abbreviated flags with a message
that suggests the closest valid one, applies the ``--smoke`` preset first so that explicit flags still win,
and can read a whole configuration back from a run folder's ``config.json`` (``--config``).
"""

import argparse
import dataclasses
import difflib
import inspect
import io
import json
import os
import re
import sys
import textwrap
import tokenize
import typing
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
STRATEGIES = ("default", "mirrored", "multi-worker")
# The same tuple as common.precision.PRECISIONS, which imports Keras lazily; written here so that parsing a
# command line imports no TensorFlow (a test holds the two equal).
PRECISIONS = ("auto", "float32", "bfloat16", "float16")
# Old spellings of settings: {old key: (new key, {old value: new value})}. A command line or a config.json that
# uses one still works, with a one-line note naming the new setting.
RENAMED = {"mixed_precision": ("precision", {True: "float16", False: "float32"})}
# The placeholder --help shows for a field's value, where its upper-case name would not say what to give.
METAVARS = {"data": "PATH", "npz": "PATH", "dataset": "NAME", "data_dir": "PATH", "runs_dir": "PATH"}
# Keys a run writes into its config.json as a record, not a setting: --config reads past them.
RECORDS = ("precision_used",)


def old_dataset_spellings(datasets, real=None):
    """The ``LEGACY`` entries of a config whose ``--data`` once named a data set: ``--data NAME`` (and ``--data
    real``, the data set ``real``) now being ``--dataset NAME``."""
    spellings = {("data", name): ({"dataset": name}, f"--dataset {name}") for name in datasets}
    if real:
        spellings[("data", "real")] = ({"dataset": real}, f"--dataset {real}")
    return spellings


class ConfigError(ValueError):
    """A configuration value or key that cannot be used; the message says how to fix it."""


def default_data_dir():
    """``$DATA_DIR`` if set, else the git-ignored cache ``data/`` at the repository root."""
    return os.environ.get("DATA_DIR") or str(REPO_ROOT / "data")


def default_runs_dir():
    """``$RUNS_DIR`` if set, else ``runs/`` at the repository root."""
    return os.environ.get("RUNS_DIR") or str(REPO_ROOT / "runs")


@dataclasses.dataclass
class RunConfig:
    """Options shared by every assignment run.

    An assignment's config names its data with two fields of its own: ``dataset``, one of the class's
    ``DATASETS`` (a public set read from ``DATA_DIR``, or a synthetic stand-in), and ``data``, a path to the
    user's own data that, when given, is read instead. ``LEGACY`` maps an old ``(key, value)`` spelling to
    ``(new settings, new spelling)``: on the command line it is refused with a one-line error that names the new
    spelling; in a settings file (an older run's ``config.json``) it is translated, with a note.
    """

    DATASETS: typing.ClassVar[tuple[str, ...]] = ()
    LEGACY: typing.ClassVar[dict] = {}

    # The data root: usps/, medmnist/, brain_tumor_mri/, isbi2012_em/, hippocampus/, ... (data/README.md).
    data_dir: str = dataclasses.field(default_factory=default_data_dir)
    # Parent folder of the run folders; each run writes runs/<assignment>/<timestamp>/.
    runs_dir: str = dataclasses.field(default_factory=default_runs_dir)
    # One seed for Python, NumPy and Keras; with op determinism the same seed gives the same metrics.
    seed: int = 42
    # tf.distribute strategy: default (one device), mirrored (all local GPUs) or multi-worker.
    strategy: str = "default"
    # Float precision of training: auto (what make bench measured fastest on this machine for each model),
    # float32, bfloat16 or float16 (mixed precision: 16-bit compute, float32 weights and outputs).
    precision: str = "auto"
    # Continue the most recent unfinished run of this assignment from its last checkpoints.
    resume: bool = False
    # Shrink data, image size and epochs for a fast run on small sample data (make demo, tests).
    smoke: bool = False
    # Keras progress output during training: 0 silent, 1 progress bar, 2 one line per epoch.
    verbose: int = 2
    # TensorBoard logs (loss and metrics per epoch) in every model folder; view them with tensorboard --logdir runs/.
    tensorboard: bool = True

    def validate(self):
        """Raise ``ConfigError`` for values that cannot work; subclasses extend this."""
        if self.DATASETS and getattr(self, "dataset", None) not in self.DATASETS:
            raise ConfigError(f"--dataset must be one of {', '.join(self.DATASETS)}, not {self.dataset!r}; your own "
                              "data goes in --data PATH.")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"--seed must be a whole number from 0 to {2**32 - 1} (NumPy's seed range), not "
                              f"{self.seed}.")
        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"Unknown strategy {self.strategy!r}. Choose one of {', '.join(STRATEGIES)} "
                "(for example --strategy mirrored to use every local GPU)."
            )
        if self.precision not in PRECISIONS:
            raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r} (auto picks "
                              "the fastest for this machine and model).")
        if self.verbose not in (0, 1, 2):
            raise ConfigError(f"verbose must be 0, 1 or 2, not {self.verbose}.")

    def require_at_least(self, *names, minimum=1):
        """Raise ``ConfigError`` naming the flag if any of the fields ``names`` is below ``minimum``."""
        for name in names:
            if getattr(self, name) < minimum:
                raise ConfigError(f"{_flag(name)} must be at least {minimum}, not {getattr(self, name)}.")

    def to_dict(self):
        return dataclasses.asdict(self)



def _flag(name):
    return "--" + name.replace("_", "-")


def _base_type(annotation):
    """The element parser and whether the field is a tuple, for a field's type annotation."""
    origin = typing.get_origin(annotation)
    if origin in (tuple, list):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return (args[0] if args else str), True
    return annotation, False


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors name the bad flag, the closest valid one and the fix."""

    def error(self, message):
        valid = sorted(o for a in self._actions for o in a.option_strings if o.startswith("--"))
        hint = ""
        if "unrecognized arguments" in message:
            unknown = [w.split("=")[0] for w in message.split(":", 1)[1].split() if w.startswith("-")]
            for word in unknown:
                close = difflib.get_close_matches(word, valid, n=1)
                if close and close[0] != word:
                    hint += f" Did you mean {close[0]} instead of {word}?"
        self.exit(
            2,
            f"{self.prog}: error: {message}.{hint} Run `python -m {self.prog} --help` for every "
            "option with its default.\n",
        )


_FIELD_LINE = re.compile(r"^    ([A-Za-z_][A-Za-z0-9_]*)\s*:")


def _class_comments(cls):
    """{field: (own comment, inline comment, paragraph comment, field that carries the paragraph comment)} from
    the source of one dataclass: a block of ``#`` lines right above a field is its own comment, a ``#`` comment
    at the end of its line its inline one; a field with neither points to the last block above it in the same
    paragraph (no blank line between), which often documents a group of fields."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    inline = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT and token.line.strip() != token.string.strip():
                inline[token.start[0]] = token.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return {}
    comments, block, paragraph, paragraph_owner = {}, [], "", None
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            block, paragraph, paragraph_owner = [], "", None
            continue
        if stripped.startswith("#"):
            block.append(stripped.lstrip("#").strip())
            continue
        match = _FIELD_LINE.match(line)
        if match and match.group(1) in {field.name for field in dataclasses.fields(cls)}:
            name, own = match.group(1), " ".join(block)
            if own:
                paragraph, paragraph_owner = own, name
            comments[name] = (own, inline.get(number, ""), paragraph, paragraph_owner)
        block = []
    return comments


def field_help(config_cls):
    """{field: help text}: each field's own comment in its config class's source, the block of ``#`` lines right
    above it and the comment at the end of its line (see ``_class_comments``); empty for a field without one, which
    the suite's tests refuse. A comment above a group of fields, separated from them by a blank line, is a section
    heading for a reader of the source, not any flag's help."""
    texts = {}
    for cls in reversed(config_cls.__mro__):
        for name, (own, inline, _, _) in _class_comments(cls).items():
            texts[name] = " ".join(part for part in (own, inline) if part)
    return texts


def build_parser(config_cls, prog, description=""):
    """An ``argparse`` parser with one flag per field of ``config_cls``."""
    parser = _Parser(prog=prog, description=description, allow_abbrev=False,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", metavar="JSON",
                        help="read settings from a JSON file (e.g. a run folder's config.json); flags win")
    hints = typing.get_type_hints(config_cls)
    defaults = config_cls()
    comments = field_help(config_cls)
    for old in RENAMED:  # old spellings, hidden from --help; make_config turns them into the new setting
        parser.add_argument(_flag(old), dest=old, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                            help=argparse.SUPPRESS)
    for field in dataclasses.fields(config_cls):
        kind, is_tuple = _base_type(hints[field.name])
        default = getattr(defaults, field.name)
        default_text = f"(default: {default})" if not is_tuple else f"(default: {','.join(map(str, default))})"
        # argparse %-formats help texts, so a literal % in a comment is doubled.
        help_text = " ".join(part for part in (comments.get(field.name, ""), default_text) if part).replace("%",
                                                                                                           "%%")
        if kind is bool and not is_tuple:
            parser.add_argument(_flag(field.name), dest=field.name, action=argparse.BooleanOptionalAction,
                                default=argparse.SUPPRESS, help=help_text)
        else:
            parser.add_argument(_flag(field.name), dest=field.name, default=argparse.SUPPRESS,
                                metavar=METAVARS.get(field.name, field.name.upper()) if not is_tuple else "A,B,...",
                                help=help_text + (" comma-separated" if is_tuple else ""))
    return parser


def _convert(config_cls, name, raw):
    """Convert a command-line or JSON value to the field's type, or raise ``ConfigError``."""
    kind, is_tuple = _base_type(typing.get_type_hints(config_cls)[name])

    def one(value):
        if kind is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes"):
                return True
            if str(value).lower() in ("0", "false", "no"):
                return False
            raise ValueError(value)
        return kind(value)

    try:
        if is_tuple:
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            return tuple(one(item.strip() if isinstance(item, str) else item) for item in items if item != "")
        return one(raw)
    except (TypeError, ValueError):
        expected = f"a comma-separated list of {kind.__name__}" if is_tuple else kind.__name__
        raise ConfigError(f"{_flag(name)} expects {expected}, got {raw!r}.") from None


def _legacy(config_cls, key, value):
    """``(new settings, new spelling)`` if ``key`` = ``value`` is an old spelling in ``config_cls.LEGACY``; else
    None."""
    try:
        return getattr(config_cls, "LEGACY", {}).get((key, value))
    except TypeError:  # an unhashable value (a list from JSON) is no old spelling
        return None


def _renamed(overrides, config_cls=None):
    """``overrides`` with the old spellings of ``RENAMED`` and of ``config_cls.LEGACY`` turned into their new
    settings (a one-line note each; an explicit new setting wins) and the run records of ``RECORDS`` left out."""
    overrides = {key: value for key, value in overrides.items() if key not in RECORDS}
    for key, value in list(overrides.items()):
        old = _legacy(config_cls, key, value)
        if old:
            new_settings, spelling = old
            print(f"note: {_flag(key)} {value} is now {spelling}; read as that.", file=sys.stderr)
            del overrides[key]
            for new_key, new_value in new_settings.items():
                overrides.setdefault(new_key, new_value)
    for old, (new, values) in RENAMED.items():
        if old not in overrides:
            continue
        raw = overrides.pop(old)
        value = values.get(raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes"))
        if new in overrides:
            continue
        if raw:  # a setting the old spelling asked for (its "off" was the default, and needs no note)
            print(f"note: {_flag(old)} is now {_flag(new)} {value}; the old spelling still works.", file=sys.stderr)
        overrides[new] = value
    return overrides


def upgraded(config_cls, settings):
    """``settings`` (a dict, e.g. an older run's config.json) in today's spellings; see ``RunConfig.LEGACY``."""
    return _renamed(settings, config_cls)


def make_config(config_cls, overrides):
    """Build ``config_cls`` from a dict of overrides; unknown keys raise ``ConfigError``."""
    overrides = _renamed(overrides, config_cls)
    names = [f.name for f in dataclasses.fields(config_cls)]
    unknown = [key for key in overrides if key not in names]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, names, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ConfigError(
            f"Unknown configuration key(s) for {config_cls.__name__}: {', '.join(hints)}. "
            f"Valid keys: {', '.join(names)}."
        )
    values = {key: _convert(config_cls, key, value) for key, value in overrides.items()}
    config = config_cls(**values)
    config.validate()
    return config


def _refuse_old_spellings(parser, config_cls, argv):
    """Exit with a one-line error naming the new spelling for a ``--flag value`` of ``config_cls.LEGACY``."""
    for index, word in enumerate(argv):
        if not word.startswith("--"):
            continue
        name, equals, value = word[2:].partition("=")
        if not equals:
            value = argv[index + 1] if index + 1 < len(argv) else None
        old = _legacy(config_cls, name.replace("-", "_"), value)
        if old and not (name == "data" and Path(value).expanduser().exists()):
            suffix = "; --data takes a path to your own data" if name == "data" else ""
            parser.exit(2, f"{parser.prog}: error: --{name} {value} is now {old[1]}{suffix}.\n")


def parse_config(config_cls, argv=None, prog="assignment", description="", smoke=None):
    """Parse command-line flags into ``config_cls``.

    Precedence, lowest to highest: the dataclass defaults, the ``--smoke`` preset ``smoke`` (a dict),
    a ``--config`` JSON file, explicit flags. Exits with status 2 and a clear message on a bad flag or value.
    """
    parser = build_parser(config_cls, prog, description)
    argv = sys.argv[1:] if argv is None else list(argv)
    _refuse_old_spellings(parser, config_cls, argv)
    args = vars(parser.parse_args(argv))
    config_file = args.pop("config", None)
    overrides = {}
    if config_file:
        path = Path(config_file)
        try:
            from_file = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            parser.exit(2, f"{prog}: error: cannot read --config {path}: {error}. Give a JSON object of "
                           "settings, such as a run folder's config.json.\n")
        if not isinstance(from_file, dict):
            parser.exit(2, f"{prog}: error: --config {path} must hold a JSON object of settings.\n")
        overrides.update(from_file)
    overrides.update(args)
    if overrides.get("smoke") and smoke:
        overrides = {**smoke, **overrides}
    try:
        return make_config(config_cls, overrides)
    except ConfigError as error:
        parser.exit(2, f"{prog}: error: {error}\n")
