import dataclasses
import json

import pytest

from common.config import ConfigError, RunConfig, make_config, parse_config


@dataclasses.dataclass
class ToyConfig(RunConfig):
    epochs: int = 10
    learning_rate: float = 1e-3
    widths: tuple[int, ...] = (32, 64)
    augment: bool = True


SMOKE = {"epochs": 1, "widths": (4,)}


def test_flags_are_converted_to_field_types():
    config = parse_config(ToyConfig, ["--epochs", "5", "--learning-rate", "0.01", "--widths", "8,16,32",
                                      "--no-augment"])
    assert config.epochs == 5 and config.learning_rate == 0.01
    assert config.widths == (8, 16, 32) and config.augment is False


def test_smoke_preset_applies_and_explicit_flags_win():
    config = parse_config(ToyConfig, ["--smoke", "--epochs", "3"], smoke=SMOKE)
    assert config.smoke and config.epochs == 3 and config.widths == (4,)
    assert parse_config(ToyConfig, [], smoke=SMOKE).epochs == 10


def test_unknown_flag_exits_with_a_suggestion(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_config(ToyConfig, ["--epoch", "5"], prog="toy")
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert "--epoch" in message and "Did you mean --epochs" in message and "--help" in message


def test_abbreviated_flags_are_not_accepted():
    with pytest.raises(SystemExit):
        parse_config(ToyConfig, ["--learning", "0.1"])


def test_bad_value_names_the_flag(capsys):
    with pytest.raises(SystemExit):
        parse_config(ToyConfig, ["--epochs", "many"], prog="toy")
    assert "--epochs expects int" in capsys.readouterr().err


def test_unknown_key_in_overrides_is_an_error():
    with pytest.raises(ConfigError, match=r"'epohcs' \(did you mean 'epochs'\?\)"):
        make_config(ToyConfig, {"epohcs": 3})


def test_invalid_strategy_is_rejected():
    with pytest.raises(ConfigError, match="mirrored"):
        make_config(ToyConfig, {"strategy": "tpu"})


def test_config_file_round_trip_and_unknown_key(tmp_path, capsys):
    original = make_config(ToyConfig, {"epochs": 7, "widths": (1, 2)})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(original.to_dict()))
    assert parse_config(ToyConfig, ["--config", str(path)]) == original
    assert parse_config(ToyConfig, ["--config", str(path), "--epochs", "2"]).epochs == 2
    path.write_text(json.dumps({"epochs": 1, "colour": "red"}))
    with pytest.raises(SystemExit):
        parse_config(ToyConfig, ["--config", str(path)], prog="toy")
    assert "colour" in capsys.readouterr().err


def test_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert ToyConfig().data_dir == str(tmp_path)


def test_counts_below_their_minimum_name_the_flag():
    from assignments.a1_usps_fcnet.config import A1Config

    with pytest.raises(ConfigError, match="--num-trials must be at least 1, not 0"):
        make_config(A1Config, {"num_trials": 0})


@dataclasses.dataclass
class CommentedConfig(RunConfig):
    # How many passes over the data; early stopping usually ends sooner.
    epochs: int = 10
    rate: float = 0.5  # a share, 50% by default

    # Widths of the two layers, in units,
    # one per layer.
    first_width: int = 8
    second_width: int = 16


def test_help_texts_are_the_comments_of_the_config_fields(capsys):
    from common.config import field_help

    texts = field_help(CommentedConfig)
    assert texts["epochs"] == "How many passes over the data; early stopping usually ends sooner."
    assert texts["rate"] == "a share, 50% by default"
    assert texts["first_width"] == "Widths of the two layers, in units, one per layer."
    assert texts["second_width"] == "", "a field without a comment of its own gets no other field's text"
    assert texts["seed"].startswith("One seed for Python, NumPy and Keras"), "the shared fields have theirs too"
    with pytest.raises(SystemExit):
        parse_config(CommentedConfig, ["--help"], prog="toy")
    printed = " ".join(capsys.readouterr().out.split())
    assert "a share, 50% by default (default: 0.5)" in printed


def test_every_field_of_every_assignment_has_a_help_text():
    import importlib

    from assignments.catalogue import ASSIGNMENTS
    from common.config import field_help

    for package, _ in ASSIGNMENTS.values():
        module = importlib.import_module(f"assignments.{package}.config")
        for config_cls in [value for value in vars(module).values()
                           if isinstance(value, type) and dataclasses.is_dataclass(value)]:
            texts = field_help(config_cls)
            missing = [field.name for field in dataclasses.fields(config_cls) if not texts.get(field.name)]
            assert not missing, f"{package}.{config_cls.__name__}: no comment for {missing}"


def _assignment_parsers():
    import importlib

    from assignments.catalogue import ASSIGNMENTS
    from common.config import build_parser

    for package, _ in ASSIGNMENTS.values():
        module = importlib.import_module(f"assignments.{package}.config")
        for config_cls in [value for value in vars(module).values()
                           if isinstance(value, type) and dataclasses.is_dataclass(value)
                           and value.__module__ == module.__name__]:
            yield f"{package}.{config_cls.__name__}", config_cls, build_parser(config_cls, package)


def test_every_help_line_is_about_its_own_flag():
    """No help text points to another flag, and no two flags of one command share a text."""
    for name, _, parser in _assignment_parsers():
        texts = {}
        for action in parser._actions:
            if not action.option_strings or action.help in (None, "==SUPPRESS=="):
                continue
            text = action.help.rsplit(" (default:", 1)[0]
            assert "(see --" not in text, f"{name} {action.option_strings[0]}: {text}"
            assert text not in texts, f"{name}: {action.option_strings[0]} repeats {texts.get(text)}'s help"
            texts[text] = action.option_strings[0]


def test_data_is_a_path_and_dataset_a_name_in_every_assignment(tmp_path, capsys):
    """--data takes a path everywhere, the data set is --dataset; the old --data NAME is refused on the command
    line with the new spelling named, and read as the new spelling from an older run's config.json."""
    for name, config_cls, parser in _assignment_parsers():
        if not issubclass(config_cls, RunConfig):
            continue
        flags = {action.dest: action for action in parser._actions}
        assert flags["data"].metavar == "PATH" and flags["dataset"].metavar == "NAME", name
        assert config_cls().data == "" and config_cls().dataset in config_cls.DATASETS, name
        old = config_cls.DATASETS[-1]
        with pytest.raises(SystemExit) as exit_info:
            parse_config(config_cls, ["--data", old], prog="toy")
        message = capsys.readouterr().err
        assert exit_info.value.code == 2 and f"--data {old} is now --dataset {old}" in message, message
        assert len(message.strip().splitlines()) == 1
        assert make_config(config_cls, {"data": old}).dataset == old, name
        capsys.readouterr()
        folder = tmp_path / old
        folder.mkdir(exist_ok=True)
        assert parse_config(config_cls, ["--data", str(folder)]).data == str(folder), "a folder of that name is data"
        with pytest.raises(SystemExit):
            parse_config(config_cls, ["--dataset", "no_such_set"], prog="toy")
        assert "--dataset must be one of" in capsys.readouterr().err


def test_old_augment_values_name_the_new_switches(capsys):
    from assignments.a4_medmnist.config import A4Config

    with pytest.raises(SystemExit):
        parse_config(A4Config, ["--augment", "off"], prog="a4")
    assert "--augment off is now --no-augment --no-compare-augmentation" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_config(A4Config, ["--cnn3d-augment=on"], prog="a4")
    assert "--cnn3d-augment on is now --cnn3d-augment --no-cnn3d-compare-augmentation" in capsys.readouterr().err
    old_run = make_config(A4Config, {"augment": "both", "cnn3d_augment": "off", "data": "real"})
    assert (old_run.augment, old_run.compare_augmentation) == (True, True)
    assert (old_run.cnn3d_augment, old_run.cnn3d_compare_augmentation) == (False, False)
    assert old_run.dataset == "medmnist" and old_run.data == ""
    assert "is now" in capsys.readouterr().err
