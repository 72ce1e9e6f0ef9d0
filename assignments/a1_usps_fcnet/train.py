"""Assignment 1's pipeline: load USPS, tune the FC network, train the CNN, evaluate once, report.

``run(config)`` performs one whole run and returns its run folder.
"""

import platform
import time

import numpy as np

from common.datasets.samples import ensure_samples
from common.datasets.splits import stratified_split
from common.datasets.usps import load_usps
from common.evaluate import evaluate_predictions
from common.plots import plot_confusion_matrix, plot_image_grid, plot_learning_curves, plot_roc_curves
from common.profiling import count_flops, count_parameters, measure_latency
from common.report import RunFolder, markdown_table, sample_data_banner
from common.reproducibility import set_seed
from common.train import fit_model, get_strategy, predict_scores, set_mixed_precision
from common.tuning import sample_search_space

from .config import ASSIGNMENT
from .model import build_fc_net, build_small_cnn, compile_classifier

CLASS_NAMES = [str(digit) for digit in range(10)]

# Published reference points for USPS (see ../shared/REFERENCES.md and the assignment README).
REFERENCES = [
    {"model": "Course reference: compact fully-connected net", "accuracy": 0.944,
     "source": "course handout (95% validation / 94.4% test)"},
    {"model": "LeCun et al. 1989, convolutional network", "accuracy": 0.950,
     "source": "Neural Computation 1(4), 5.0% test error"},
    {"model": "Human performance", "accuracy": 0.975, "source": "Bromley & Sackinger, ~2.5% error"},
]


def _load_data(config):
    data_dir = ensure_samples("usps") if config.data == "sample" else config.data_dir
    return load_usps(data_dir, data_format=config.data_format)


def _tune_fc_net(config, run, strategy, train, validation, input_shape):
    """Train one FC network per sampled setting; return the trials (best first) and their FitResults."""
    trials = sample_search_space(config.search_space(), config.num_trials, seed=config.seed)
    results = []
    for index, trial in enumerate(trials, start=1):
        set_seed(config.seed + index)
        print(f"[tuning] trial {index}/{len(trials)}: {trial}", flush=True)

        def build(trial=trial):
            model = build_fc_net(input_shape, len(CLASS_NAMES), hidden_units=trial["hidden_units"],
                                 dropout_rate=trial["dropout_rate"], augment=config.augment)
            return compile_classifier(model, trial["learning_rate"])

        fit = fit_model(build, train, validation, run.model_folder(f"fc_trial_{index}"), epochs=config.epochs,
                        batch_size=trial["batch_size"], monitor="val_accuracy", patience=config.patience,
                        reduce_lr_patience=config.reduce_lr_patience,
                        strategy=strategy, resume=config.resume, verbose=config.verbose)
        results.append(({"trial": index, **trial}, fit))
    results.sort(key=lambda item: -item[1].best_value)
    return results


def _final_row(name, fit, data, config, dataset, run):
    """Evaluate one chosen model once on the test split and measure its cost."""
    scores = predict_scores(fit.model, data.x_test)
    metrics = evaluate_predictions(data.y_test, scores, "multi-class", CLASS_NAMES)
    run.save_predictions(name, "test", data.y_test, scores, CLASS_NAMES)
    _, parameters = count_parameters(fit.model)
    latency = measure_latency(fit.model, data.x_test[:1], repeats=config.latency_repeats)
    row = {
        "model": name, "dataset": dataset, "split": "test",
        "accuracy": metrics["accuracy"], "auc": metrics["auc"],
        "balanced_accuracy": metrics["balanced_accuracy"], "macro_f1": metrics["macro_f1"],
        "val_accuracy": fit.best_value, "parameters": parameters, "flops_per_image": count_flops(fit.model),
        "train_seconds": fit.train_seconds, "epochs_run": fit.epochs_run, "best_epoch": fit.best_epoch,
        "latency_batch1_ms": latency["batch1_ms"],
        "latency_batched_ms_per_image": latency["batched_ms_per_image"],
        "latency_batch_size": latency["batch_size"],
        "model_file": str((fit.folder / "best.keras").relative_to(run.path)),
        "per_class": metrics["per_class"], "confusion_matrix": metrics["confusion_matrix"],
    }
    return row, scores


def run(config):
    """Run assignment 1 end to end; returns the run folder (a ``pathlib.Path``)."""
    started = time.perf_counter()
    # A multi-worker strategy must exist before any other TensorFlow work, so it is made first.
    strategy = get_strategy(config.strategy)
    set_seed(config.seed)
    set_mixed_precision(config.mixed_precision)
    data = _load_data(config)  # before the run folder, so that missing data leaves no empty folder behind
    run_folder = RunFolder.open(config.runs_dir, ASSIGNMENT, resume=config.resume)
    run_folder.start(config)
    print(f"[run] {run_folder.path}", flush=True)
    dataset = "usps" if not data.is_sample else "usps-sample-stand-in"
    keep, held_out = stratified_split(data.y_train, config.validation_fraction, seed=config.seed)
    train = (data.x_train[keep], data.y_train[keep])
    validation = (data.x_train[held_out], data.y_train[held_out])
    input_shape = data.x_train.shape[1:]
    print(f"[data] {data.title}: {len(keep)} train / {len(held_out)} validation / {len(data.y_test)} test",
          flush=True)

    trials = _tune_fc_net(config, run_folder, strategy, train, validation, input_shape)
    best_trial, best_fit = trials[0]
    chosen = {"fc_net": best_fit}
    if config.cnn:
        set_seed(config.seed)

        def build_cnn():
            model = build_small_cnn(input_shape, len(CLASS_NAMES), filters=config.cnn_filters,
                                    dropout_rate=config.cnn_dropout, augment=config.augment)
            return compile_classifier(model, config.cnn_learning_rate)

        print("[cnn] training the comparison CNN", flush=True)
        chosen["small_cnn"] = fit_model(build_cnn, train, validation, run_folder.model_folder("small_cnn"),
                                        epochs=config.cnn_epochs, batch_size=config.cnn_batch_size,
                                        monitor="val_accuracy", patience=config.patience,
                                        reduce_lr_patience=config.reduce_lr_patience, strategy=strategy,
                                        resume=config.resume, verbose=config.verbose)

    # The one and only use of the test split: the chosen FC network and the CNN, evaluated once each.
    rows, scores = [], {}
    for name, fit in chosen.items():
        row, scores[name] = _final_row(name, fit, data, config, dataset, run_folder)
        rows.append(row)

    figures = _figures(config, run_folder, chosen, rows, scores, data)
    tuning_rows = [{**trial, "hidden_units": "x".join(map(str, trial["hidden_units"])),
                    "val_accuracy": fit.best_value, "epochs_run": fit.epochs_run, "best_epoch": fit.best_epoch,
                    "train_seconds": fit.train_seconds, "parameters": count_parameters(fit.model)[1]}
                   for trial, fit in trials]
    elapsed = time.perf_counter() - started
    environment = {"python": platform.python_version(), "machine": platform.machine(),
                   "tensorflow": _version("tensorflow"), "keras": _version("keras")}
    run_folder.write_metrics(
        rows, data={"title": data.title, "files": data.files, "sample": data.is_sample},
        seed=config.seed, chosen_trial=best_trial["trial"], tuning=tuning_rows, wall_seconds=elapsed,
        environment=environment,
    )
    run_folder.write_report(_report(config, data, rows, tuning_rows, figures, elapsed, environment))
    return run_folder.path


def _version(package):
    from importlib.metadata import version

    return version(package)


def _figures(config, run_folder, chosen, rows, scores, data):
    figures = {}
    figures["curves"] = plot_learning_curves({name: fit.history for name, fit in chosen.items()},
                                             run_folder.figures / "learning_curves.png")
    for row in rows:
        name = row["model"]
        figures[f"confusion_{name}"] = plot_confusion_matrix(
            row["confusion_matrix"], CLASS_NAMES, run_folder.figures / f"confusion_{name}.png",
            title=f"{name}: test confusion matrix")
        figures[f"roc_{name}"] = plot_roc_curves(data.y_test, scores[name], CLASS_NAMES,
                                                 run_folder.figures / f"roc_{name}.png")
        predicted = scores[name].argmax(axis=1)
        wrong = np.flatnonzero(predicted != data.y_test)[: config.num_misclassified_shown]
        figures[f"misclassified_{name}"] = plot_image_grid(
            data.x_test[wrong], [f"true {data.y_test[i]} / pred {predicted[i]}" for i in wrong],
            run_folder.figures / f"misclassified_{name}.png")
    return {key: path.relative_to(run_folder.path) for key, path in figures.items()}


def _report(config, data, rows, tuning_rows, figures, elapsed, environment):
    banner = sample_data_banner(data.sample)
    results = markdown_table(
        rows,
        {"model": "model", "accuracy": "test accuracy", "auc": "test AUC", "val_accuracy": "val accuracy",
         "parameters": "parameters", "flops_per_image": "FLOPs / image", "train_seconds": "training (s)",
         "epochs_run": "epochs", "latency_batch1_ms": "latency batch 1 (ms)",
         "latency_batched_ms_per_image": "latency batched (ms / image)"},
        {"accuracy": ".4f", "auc": ".4f", "val_accuracy": ".4f", "parameters": ",d", "flops_per_image": ",d",
         "train_seconds": ".1f", "latency_batch1_ms": ".3f", "latency_batched_ms_per_image": ".4f"},
    )
    tuning = markdown_table(
        tuning_rows,
        {"trial": "trial", "hidden_units": "hidden units", "dropout_rate": "dropout",
         "learning_rate": "learning rate", "batch_size": "batch", "val_accuracy": "val accuracy",
         "best_epoch": "best epoch", "epochs_run": "epochs", "train_seconds": "training (s)",
         "parameters": "parameters"},
        {"val_accuracy": ".4f", "learning_rate": "g", "train_seconds": ".1f", "parameters": ",d"},
    )
    references = markdown_table(REFERENCES, {"model": "published reference", "accuracy": "test accuracy",
                                             "source": "source"}, {"accuracy": ".3f"})
    files = "\n".join(f"- `{name}` MD5 `{info['md5']}`" for name, info in data.files.items())
    per_class = "\n\n".join(
        f"**{row['model']}** per-class recall: " + ", ".join(
            f"{name}: {stats['recall']:.3f}" for name, stats in row["per_class"].items())
        for row in rows)
    images = "\n".join(f"![{key}]({path})" for key, path in figures.items())
    return f"""# Assignment 1: USPS digits with a compact fully-connected network

{banner}Data: {data.title}; {len(data.y_train)} training digits ({config.validation_fraction:.0%} of each class
held out for validation), {len(data.y_test)} test digits.
{files}

## Results on the test split (evaluated once, after tuning on validation)

{results}

Latency is the median over {config.latency_repeats} calls of a compiled forward pass on this machine
({environment['machine']}, TensorFlow {environment['tensorflow']}); the batched figure uses batches of
{rows[0]['latency_batch_size']}. FLOPs count 2 per multiply-add of dense and convolution layers.

{per_class}

## Hyper-parameter search (random search on the validation split, best first)

{tuning}

## Published references for USPS

{references}

## Figures

{images}

Seed {config.seed}; augmentation {'on' if config.augment else 'off'}; whole run {elapsed:.0f} s.
"""
