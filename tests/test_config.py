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
    assert texts["second_width"] == "(see --first-width)", "a field under a group comment points to it"
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
