"""Assignment 1, the experiment: tune the fully-connected network on validation, train the comparison CNN,
evaluate both once on the test split. ``report.py`` draws the figures and writes the report.

    python -m assignments.a1_usps_fcnet            real USPS (downloaded on first use)
    python -m assignments.a1_usps_fcnet --smoke    stand-in sample digits, about half a minute

``run(config)`` performs one whole run and returns its run folder.
"""

from common.profiling import count_flops, count_parameters, measure_latency
from common.reproducibility import set_seed
from common.results import score_split
from common.run import start_run
from common.train import fit_model, predict_scores
from common.tuning import sample_search_space

from .config import ASSIGNMENT
from .data import CLASS_NAMES, load_digits
from .model import build_fc_net, build_small_cnn, compile_classifier
from .report import write_report


def tune_fc_net(config, run, strategy, data):
    """Train one FC network per setting drawn from the search space; returns [(trial, FitResult)], best
    validation accuracy first."""
    trials = sample_search_space(config.search_space(), config.num_trials, seed=config.seed)
    results = []
    for index, trial in enumerate(trials, start=1):
        set_seed(config.seed + index)
        print(f"[tuning] trial {index}/{len(trials)}: {trial}", flush=True)

        def build(trial=trial):
            model = build_fc_net(data.input_shape, len(CLASS_NAMES), hidden_units=trial["hidden_units"],
                                 dropout_rate=trial["dropout_rate"], augment=config.augment)
            return compile_classifier(model, trial["learning_rate"])

        fit = fit_model(build, (data.x_train, data.y_train), (data.x_val, data.y_val),
                        run.model_folder(f"fc_trial_{index}"), epochs=config.epochs, batch_size=trial["batch_size"],
                        monitor="val_accuracy", patience=config.patience, reduce_lr_patience=config.reduce_lr_patience,
                        strategy=strategy, resume=config.resume, verbose=config.verbose, tensorboard=config.tensorboard)
        results.append(({"trial": index, **trial}, fit))
    return sorted(results, key=lambda item: -item[1].best_value)


def train_cnn(config, run, strategy, data):
    """The comparison CNN, trained by the same trainer on the same split."""
    set_seed(config.seed)

    def build():
        model = build_small_cnn(data.input_shape, len(CLASS_NAMES), filters=config.cnn_filters,
                                dropout_rate=config.cnn_dropout, augment=config.augment)
        return compile_classifier(model, config.cnn_learning_rate)

    print("[cnn] training the comparison CNN", flush=True)
    return fit_model(build, (data.x_train, data.y_train), (data.x_val, data.y_val), run.model_folder("small_cnn"),
                     epochs=config.cnn_epochs, batch_size=config.cnn_batch_size, monitor="val_accuracy",
                     patience=config.patience, reduce_lr_patience=config.reduce_lr_patience, strategy=strategy,
                     resume=config.resume, verbose=config.verbose, tensorboard=config.tensorboard)


def evaluate_on_test(name, fit, data, config, run):
    """The one evaluation of a chosen model on the test split, with what it costs; returns (row, scores)."""
    scores = predict_scores(fit.model, data.x_test)
    _, parameters = count_parameters(fit.model)
    latency = measure_latency(fit.model, data.x_test[:1], repeats=config.latency_repeats)
    row = score_split(run, name, "test", data.y_test, scores, task="multi-class", class_names=CLASS_NAMES,
                      dataset=data.dataset, model_file=run.relative(fit.folder / "best.keras"),
                      val_accuracy=fit.best_value, parameters=parameters, flops_per_image=count_flops(fit.model),
                      train_seconds=fit.train_seconds, epochs_run=fit.epochs_run, best_epoch=fit.best_epoch,
                      latency_batch1_ms=latency["batch1_ms"],
                      latency_batched_ms_per_image=latency["batched_ms_per_image"],
                      latency_batch_size=latency["batch_size"])
    return row, scores


def run(config):
    """Run assignment 1 end to end; returns the run folder (a ``pathlib.Path``)."""
    session = start_run(config)
    data = load_digits(config)
    run = session.open_folder(ASSIGNMENT)
    print(f"[data] {data.title}: {len(data.y_train)} train / {len(data.y_val)} validation / {len(data.y_test)} "
          "test", flush=True)

    trials = tune_fc_net(config, run, session.strategy, data)
    best_trial, best_fit = trials[0]
    fits = {"fc_net": best_fit}
    if config.cnn:
        fits["small_cnn"] = train_cnn(config, run, session.strategy, data)

    # The one and only use of the test split: the chosen FC network and the CNN, evaluated once each.
    rows, scores = [], {}
    for name, fit in fits.items():
        row, scores[name] = evaluate_on_test(name, fit, data, config, run)
        rows.append(row)

    tuning = [{**trial, "hidden_units": "x".join(map(str, trial["hidden_units"])), "val_accuracy": fit.best_value,
               "epochs_run": fit.epochs_run, "best_epoch": fit.best_epoch, "train_seconds": fit.train_seconds,
               "parameters": count_parameters(fit.model)[1]} for trial, fit in trials]
    run.write_metrics(rows, data={"title": data.title, "files": data.files, "sample": bool(data.sample)},
                      chosen_trial=best_trial["trial"], tuning=tuning)
    write_report(run, config, data, fits, rows, scores, tuning)
    return run.path
