"""Assignment 7, the experiment: CheXNet (DenseNet-121) and a compact DenseNet baseline trained the same way on
chest X-rays, each with its decision threshold chosen on validation, the model chosen on validation, and the test
split scored once. ``report.py`` draws the figures (ROC, CAM and Grad-CAM) and writes the report.

    python -m assignments.a7_chexnet --npz PATH/pneumoniamnist_reduced.npz   a PneumoniaMNIST-format file
    python -m assignments.a7_chexnet --smoke                                 synthetic file, about a minute

``run(config)`` performs one whole run and returns its run folder.
"""

import functools

import numpy as np

from common.evaluate import bootstrap_auc_interval, evaluate_predictions, youden_threshold
from common.profiling import count_parameters
from common.results import save_predictions, score_split, validation_prediction_file
from common.run import start_run
from common.train import fit_model, predict_scores

from .config import ASSIGNMENT
from .data import load_chest_xray_data
from .model import build_chexnet, build_compact_densenet, chexnet_loss_weights, compile_chexnet
from .report import write_report

# The two models of a run, by the names their folders, rows and figures carry.
CHEXNET, BASELINE = "densenet121", "compact_densenet"
PREDICT_BATCH = 128


def densenet_weights(config, data):
    """(weights for ``build_chexnet``, a note for the report): ImageNet where Keras can download them, else random
    initialisation, said so."""
    if config.densenet_weights == "random":
        return None, "random initialisation (--densenet-weights random)"
    try:
        build_chexnet(data.input_shape, config.input_size, weights="imagenet", augment=False)
    except Exception as error:  # noqa: BLE001 (Keras raises a plain Exception for a failed download)
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
        return None, (f"random initialisation: the ImageNet weights could not be downloaded ({reason}); on a machine "
                      "with internet the same command starts from them")
    return "imagenet", "ImageNet weights (keras.applications)"


def builders(config, data, weights=None):
    """{model name: a function building its uncompiled model}."""
    shape = data.input_shape
    return {CHEXNET: functools.partial(build_chexnet, shape, config.input_size, weights=weights,
                                       dropout_rate=config.dropout_rate, augment=config.augment, shift=config.shift,
                                       contrast=config.contrast),
            BASELINE: functools.partial(build_compact_densenet, shape, blocks=config.baseline_blocks,
                                        growth_rate=config.baseline_growth_rate, dropout_rate=config.dropout_rate,
                                        augment=config.augment, shift=config.shift, contrast=config.contrast)}


def train(name, build_uncompiled, epochs, config, run, strategy, data):
    """Adam with CheXNet's weighted loss, the learning rate divided by 10 on a validation-loss plateau, the
    checkpoint of the best validation AUC."""
    import keras

    positive, negative = chexnet_loss_weights(data.y_train)

    def build():
        return compile_chexnet(build_uncompiled(), config.learning_rate, positive, negative)

    print(f"[{name}] training ({epochs} epochs at most; loss weights pneumonia {positive:.3f}, normal "
          f"{negative:.3f})", flush=True)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=config.lr_patience,
                                                min_lr=config.learning_rate * 1e-3)
    return fit_model(build, (data.x_train, _column(data.y_train)), (data.x_val, _column(data.y_val)),
                     run.model_folder(name), epochs=epochs, batch_size=config.batch_size, monitor="val_auc",
                     task="binary", patience=config.patience, callbacks=(plateau,), strategy=strategy,
                     resume=config.resume, verbose=config.verbose, tensorboard=config.tensorboard, seed=config.seed)


def _column(labels):
    """Labels (N,) as the float32 (N, 1) targets of a single sigmoid."""
    return np.asarray(labels, np.float32).reshape(-1, 1)


def evaluate(name, fit, config, run, data, note):
    """Choose the model's threshold on validation (Youden's J) and score the test split once; the model is its
    best validation checkpoint, ``best.keras``. (The suite's precise batch norm, ``save_final_model``, re-estimates
    one batch-norm layer at a time over the training images: 120 passes for DenseNet-121, longer than its training
    here.) Returns (row, test scores (N,))."""
    model_file = fit.folder / "best.keras"
    val_scores = predict_scores(fit.model, data.x_val, PREDICT_BATCH).ravel()
    threshold = youden_threshold(data.y_val, val_scores)
    scores = predict_scores(fit.model, data.x_test, PREDICT_BATCH).ravel()
    low, high = bootstrap_auc_interval(data.y_test, scores, samples=config.bootstrap_samples, seed=config.seed)
    row = score_split(run, name, "test", data.y_test, scores[:, None], task="binary", class_names=data.class_names,
                      dataset=data.dataset, model_file=run.relative(model_file), threshold=threshold,
                      auc_low=low, auc_high=high, parameters=count_parameters(fit.model)[1],
                      epochs_run=fit.epochs_run, best_epoch=fit.best_epoch, train_seconds=fit.train_seconds,
                      weights=note)
    # The validation predictions are kept too, apart from the result rows: the grader re-chooses the threshold.
    save_predictions(validation_prediction_file(run.path, name), data.y_val, val_scores[:, None], data.class_names)
    validation = evaluate_predictions(data.y_val, val_scores, "binary", data.class_names, threshold=threshold)
    row.update(val_auc=validation["auc"], val_balanced_accuracy=validation["balanced_accuracy"],
               sensitivity=row["per_class"]["pneumonia"]["recall"], specificity=row["per_class"]["normal"]["recall"],
               f1=row["per_class"]["pneumonia"]["f1"])
    print(f"[{name}] test AUC {row['auc']:.4f} (95% CI {low:.4f}-{high:.4f}), balanced accuracy "
          f"{row['balanced_accuracy']:.4f} at threshold {threshold:.3f} (chosen on validation)", flush=True)
    return row, scores


def run(config):
    """Run assignment 7 end to end; returns the run folder (a ``pathlib.Path``)."""
    session = start_run(config)
    data = load_chest_xray_data(config)
    run = session.open_folder(ASSIGNMENT)
    print(f"[data] {data.title}: {data.describe()}", flush=True)
    weights, weights_note = densenet_weights(config, data)
    print(f"[{CHEXNET}] {weights_note}", flush=True)
    models = builders(config, data, weights)
    fits = {CHEXNET: train(CHEXNET, models[CHEXNET], config.epochs, config, run, session.strategy, data)}
    notes = {CHEXNET: weights_note}
    if config.baseline:
        fits[BASELINE] = train(BASELINE, models[BASELINE], config.baseline_epochs, config, run, session.strategy,
                               data)
        notes[BASELINE] = "random initialisation (the baseline is trained from scratch)"
    rows, scores = [], {}
    for name, fit in fits.items():
        row, scores[name] = evaluate(name, fit, config, run, data, notes[name])
        rows.append(row)
    chosen = max(rows, key=lambda row: row["val_auc"])["model"]  # on validation, never on test
    chosen_row = next(row for row in rows if row["model"] == chosen)
    run.write_metrics(rows, data=data.summary(), chosen_model=chosen, chosen_model_file=chosen_row["model_file"],
                      threshold_rule="Youden's J on validation (= the best validation balanced accuracy)",
                      densenet_weights=weights_note, input_size=config.input_size)
    write_report(run, config, data, fits, rows, scores, chosen)
    return run.path
