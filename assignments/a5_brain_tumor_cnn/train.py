"""Assignment 5, the experiment: load and check the data, train the CNN (and the EfficientNetB0 transfer model
when its ImageNet weights can be had), choose on validation, evaluate on the official and the de-duplicated test
set, and save the chosen model for ``predict``. ``report.py`` draws the figures and writes the report.

    python -m assignments.a5_brain_tumor_cnn            real data in DATA_DIR/brain_tumor_mri
    python -m assignments.a5_brain_tumor_cnn --smoke    synthetic slices, under two minutes

``run(config)`` performs one whole run and returns its run folder.
"""

import functools

from common.atomic import write_json
from common.models.transfer import choose_transfer_weights
from common.profiling import count_parameters
from common.report import INTENDED_USE
from common.results import score_split
from common.run import start_run
from common.train import fit_model, predict_scores, save_final_model

from .config import ASSIGNMENT
from .data import INFO, load_brain_tumor_data
from .model import build_brain_tumor_cnn, build_transfer_model, compile_classifier, cosine_learning_rate
from .predict import MODEL_INFO
from .report import write_report


def _steps_per_epoch(data, config):
    return -(-len(data.y_train) // config.batch_size)


def builders(config, data, transfer_weights=None):
    """{model name: a function building its uncompiled model}: "cnn", the CNN from scratch, and
    "efficientnet_b0", the transfer model with ``transfer_weights`` ("imagenet", or None for random weights)."""
    shape, num_classes = data.input_shape, len(data.class_names)
    return {"cnn": functools.partial(build_brain_tumor_cnn, shape, num_classes, filters=config.filters,
                                     dropout_rate=config.dropout_rate, augment=config.augment),
            "efficientnet_b0": functools.partial(build_transfer_model, shape, num_classes, weights=transfer_weights,
                                                 augment=config.augment)}


def train_cnn(config, run, strategy, data):
    """The CNN from scratch, a cosine learning-rate schedule, early stopping on validation accuracy."""
    build_uncompiled = builders(config, data)["cnn"]

    def build():
        return compile_classifier(build_uncompiled(), cosine_learning_rate(config.learning_rate, config.epochs,
                                                                           _steps_per_epoch(data, config)))

    print("[cnn] training the CNN from scratch", flush=True)
    return fit_model(build, (data.x_train, data.y_train), (data.x_val, data.y_val), run.model_folder("cnn"),
                     epochs=config.epochs, batch_size=config.batch_size, monitor="val_accuracy",
                     patience=config.patience, strategy=strategy, resume=config.resume, verbose=config.verbose,
                     tensorboard=config.tensorboard, seed=config.seed)


def transfer_weights(config, data):
    """How the EfficientNetB0 row is trained (see ``common.models.transfer.choose_transfer_weights``)."""
    return choose_transfer_weights(config.transfer_weights, lambda: build_transfer_model(
        data.input_shape, len(data.class_names), weights="imagenet", augment=False), "--transfer-weights")


def train_transfer(config, run, strategy, data, weights):
    """EfficientNetB0 with a new head, trained like the CNN."""
    build_uncompiled = builders(config, data, weights)["efficientnet_b0"]

    def build():
        return compile_classifier(build_uncompiled(), cosine_learning_rate(
            config.transfer_learning_rate, config.transfer_epochs, _steps_per_epoch(data, config)))

    print("[transfer] training EfficientNetB0", flush=True)
    return fit_model(build, (data.x_train, data.y_train), (data.x_val, data.y_val),
                     run.model_folder("efficientnet_b0"), epochs=config.transfer_epochs,
                     batch_size=config.batch_size, monitor="val_accuracy", patience=config.patience,
                     strategy=strategy, resume=config.resume, verbose=config.verbose,
                     tensorboard=config.tensorboard, seed=config.seed)


def finalise(name, fit, config, data, note):
    """Save the final model (batch norm re-estimated on the clean training images, ``save_final_model``; on real
    data the checkpoint's statistics, gathered on augmented batches, cost about 1.5 points of test accuracy) with
    what ``predict`` needs beside it; returns (model file, validation accuracy)."""
    model_file = save_final_model(fit, data.x_train)
    write_json(fit.folder / MODEL_INFO, {
        "model": name, "class_names": data.class_names, "image_size": config.image_size,
        "channels": config.channels, "input": "float32 (N, size, size, channels) in [0, 255]; the model rescales",
        "trained_on": "sample data" if data.sample else INFO.title, "weights_note": note,
        "intended_use": INTENDED_USE})
    predicted = predict_scores(fit.model, data.x_val, batch_size=64).argmax(axis=1)
    return model_file, float((predicted == data.y_val).mean())


def evaluate_on_test(name, fit, run, data, model_file, val_accuracy):
    """Score one model on the official and the de-duplicated test set (its only use of the test split)."""
    scores = predict_scores(fit.model, data.x_test, batch_size=64)
    keep = data.duplicates.test_keep
    common = {"task": "multi-class", "class_names": data.class_names, "dataset": data.dataset,
              "model_file": run.relative(model_file), "val_accuracy": val_accuracy,
              "val_accuracy_checkpoint": fit.best_value, "epochs_run": fit.epochs_run,
              "train_seconds": fit.train_seconds, "parameters": count_parameters(fit.model)[1]}
    rows = [score_split(run, name, "test", data.y_test, scores, **common),
            score_split(run, name, "test-deduplicated", data.y_test[keep], scores[keep], **common)]
    return rows, scores


def run(config):
    """Run assignment 5 end to end; returns the run folder (a ``pathlib.Path``)."""
    session = start_run(config)
    print("[data] reading images and checking for duplicates", flush=True)
    data = load_brain_tumor_data(config)
    run = session.open_folder(ASSIGNMENT)
    print(f"[data] {data.describe()}", flush=True)

    fits, notes = {"cnn": train_cnn(config, run, session.strategy, data)}, {"cnn": "from scratch"}
    transfer = transfer_weights(config, data) if config.transfer else None
    if transfer is not None:
        print(f"[transfer] EfficientNetB0: {transfer.note}", flush=True)
        if transfer.train:
            fits["efficientnet_b0"] = train_transfer(config, run, session.strategy, data, transfer.weights)
            notes["efficientnet_b0"] = transfer.note
    rows, scores, val_accuracy, model_files = [], {}, {}, {}
    for name, fit in fits.items():
        model_files[name], val_accuracy[name] = finalise(name, fit, config, data, notes[name])
        model_rows, scores[name] = evaluate_on_test(name, fit, run, data, model_files[name], val_accuracy[name])
        rows.extend(model_rows)
    chosen = max(fits, key=lambda name: val_accuracy[name])  # picked on validation, never on test
    run.write_metrics(rows, data=data.summary(), duplicates=data.duplicates.to_dict(), chosen_model=chosen,
                      chosen_model_file=run.relative(model_files[chosen]), weights_notes=notes,
                      efficientnet_b0={"weights": transfer.weights, "trained": transfer.train, "note": transfer.note}
                      if transfer else None)
    write_report(run, config, data, fits, rows, scores, notes, chosen, transfer)
    return run.path
