import datetime
import json

import keras
import numpy as np
import pytest

from common.profiling import count_flops, count_parameters, measure_latency
from common.report import markdown_table, sample_data_banner
from common.results import load_predictions, prediction_file, save_predictions
from common.run import RunError, RunFolder


def test_flops_of_dense_and_conv_layers_are_counted_exactly():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="valid")(inputs)  # 6x6x4 outputs, 27 MACs each + bias
    x = keras.layers.Conv3D(2, 1)(keras.layers.Reshape((6, 6, 4, 1))(x))  # 144 positions x 2, 1 MAC
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(5, use_bias=False)(x)  # 288 -> 5
    model = keras.Model(inputs, outputs)
    expected = 6 * 6 * 4 * (2 * 27 + 1) + 144 * 2 * (2 * 1 + 1) + 2 * 288 * 5
    assert count_flops(model) == expected
    trainable, total = count_parameters(model)
    assert trainable == total == (27 * 4 + 4) + (1 * 2 + 2) + 288 * 5


def test_latency_is_measured_for_batch_one_and_batched():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    latency = measure_latency(model, np.zeros((1, 4), "float32"), batch_size=16, repeats=5)
    assert latency["batch1_ms"] > 0 and latency["batched_ms_per_image"] > 0 and latency["batch_size"] == 16


def test_run_folders_never_collide(tmp_path):
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5)
    first = RunFolder.create(tmp_path, "a9", now=moment)
    second = RunFolder.create(tmp_path, "a9", now=moment)
    assert first.path.name == "20260102-030405" and second.path.name == "20260102-030405-2"


def test_resume_picks_the_latest_unfinished_run(tmp_path):
    with pytest.raises(RunError, match="without --resume"):
        RunFolder.open(tmp_path, "a9", resume=True)
    finished = RunFolder.create(tmp_path, "a9", now=datetime.datetime(2026, 1, 1))
    finished.write_metrics([{"model": "m", "dataset": "d", "split": "test", "task": "binary", "accuracy": 1.0,
                             "auc": None, "num_samples": 4}])
    unfinished = RunFolder.create(tmp_path, "a9", now=datetime.datetime(2026, 1, 2))
    assert RunFolder.open(tmp_path, "a9", resume=True).path == unfinished.path


def test_metrics_need_the_required_fields_and_are_valid_json(tmp_path):
    run = RunFolder.create(tmp_path, "a9")
    with pytest.raises(ValueError, match="lacks auc"):
        run.write_metrics([{"model": "m", "dataset": "d", "split": "test", "task": "binary", "accuracy": 0.5,
                            "num_samples": 2}])
    with pytest.raises(ValueError, match="task 'regression'"):
        run.write_metrics([{"model": "m", "dataset": "d", "split": "test", "task": "regression", "accuracy": 0.5,
                            "auc": 0.5, "num_samples": 2}])
    run.write_metrics([{"model": "m", "dataset": "d", "split": "test", "task": "binary", "accuracy": np.float32(0.5),
                        "auc": float("nan"), "num_samples": np.int64(2)}], extra_note=np.int64(3))
    data = json.loads((run.path / "metrics.json").read_text())
    assert data["results"][0]["accuracy"] == 0.5 and data["results"][0]["auc"] is None and data["extra_note"] == 3
    assert data["wall_seconds"] >= 0 and data["environment"]["tensorflow"] and data["environment"]["keras"]


def test_predictions_are_saved_for_rescoring_and_scored_into_one_row(tmp_path):
    from common.results import REQUIRED_FIELDS, score_split

    run = RunFolder.create(tmp_path, "a9")
    path = save_predictions(prediction_file(run.path, "net", "test"), [0, 1], [[0.9, 0.1], [0.2, 0.8]], ["a", "b"])
    y_true, y_score, names = load_predictions(path)
    assert y_true.tolist() == [0, 1] and names == ["a", "b"] and y_score.dtype == np.float32
    row = score_split(run, "other", "test", [0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], task="binary",
                      class_names=["a", "b"], dataset="toy", model_file="other/best.keras", parameters=7)
    assert set(REQUIRED_FIELDS) <= set(row) and row["accuracy"] == pytest.approx(2 / 3) and row["auc"] == 1.0
    assert row["parameters"] == 7 and row["confusion_matrix"] == [[1, 0], [1, 1]]
    assert prediction_file(run.path, "other", "test").is_file()
    run.write_metrics([row])


def test_markdown_table_and_banner():
    table = markdown_table([{"a": 0.12345, "b": None}], {"a": "A", "b": "B"}, {"a": ".2f"})
    assert table.splitlines() == ["| A | B |", "|---|---|", "| 0.12 | n/a |"]
    assert sample_data_banner(None) == ""
    assert "SAMPLE DATA" in sample_data_banner({"title": "t", "description": "d"})


def test_resuming_with_different_settings_is_refused(tmp_path):
    import dataclasses

    from common.config import RunConfig

    @dataclasses.dataclass
    class Toy(RunConfig):
        epochs: int = 3

    run = RunFolder.create(tmp_path, "a9")
    run.start(Toy(runs_dir=str(tmp_path)))
    RunFolder.open(tmp_path, "a9", resume=True).start(Toy(runs_dir=str(tmp_path), resume=True, verbose=0))
    with pytest.raises(RunError, match=r"different settings \(epochs\).*--config .*config.json --resume"):
        RunFolder.open(tmp_path, "a9", resume=True).start(Toy(runs_dir=str(tmp_path), resume=True, epochs=9))


def test_tables_that_would_not_render_are_found(table_problems):
    good = markdown_table([{"check": "exact copies", "count": 2}], {"check": "check", "count": "count"})
    assert table_problems(f"text\n\n{good}\nmore text") == []
    continued = "| check | count |\n|---|---|\n| Testing files byte-identical to \\ | 2 |\n"
    assert table_problems(continued) == ["line 3: a cell ends in a backslash"]
    assert table_problems("| a | b |\n|---|---|\n| 1 | 2 | 3 |\n") == ["line 3: 3 cells under a header of 2"]
    assert table_problems("| a | b |\n| 1 | 2 |\n") == ["line 1: no |---| line under the table's header"]


def test_floats_in_report_tables_are_rounded():
    table = markdown_table([{"name": "a", "score": 0.8263168334960935, "seconds": 12.5}], {"name": "n", "score": "s",
                                                                                            "seconds": "t"},
                           {"seconds": ".0f"})
    assert "| a | 0.8263 | 12 |" in table


def test_a_title_wider_than_its_figure_is_saved_whole(tmp_path):
    """save_figure keeps every text inside the saved image; no figure of the suite is saved another way."""
    import re
    from pathlib import Path

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    from common.plots import save_figure

    figure = Figure(figsize=(2, 2))
    figure.add_subplot().plot([0, 1])
    title = figure.suptitle("a title much wider than the two inches of this figure, which a plain savefig cuts")
    save_figure(figure, tmp_path / "wide.png", dpi=50)
    width = Image.open(tmp_path / "wide.png").size[0]
    title_width = title.get_window_extent(FigureCanvasAgg(figure).get_renderer()).width / figure.dpi * 50
    assert title_width > 2 * 50 and width >= 0.9 * title_width  # glyph sizes vary a little with the dpi
    root = Path(__file__).resolve().parent.parent
    for path in [*root.glob("common/**/*.py"), *root.glob("assignments/**/*.py")]:
        for call in re.findall(r"\.savefig\(([^)]*)\)", path.read_text()):
            assert 'bbox_inches="tight"' in call, f"{path.relative_to(root)}: savefig({call}) can cut a title"
