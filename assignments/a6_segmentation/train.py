"""Assignment 6, the experiment: train the U-Net and the Attention U-Net on random augmented crops of the
training images, name the better on validation, and score both once on the whole test images, predicted by
overlap-tiling. ``report.py`` draws the figures and writes the report.

    python -m assignments.a6_segmentation                    ISBI 2012 slices in DATA_DIR/isbi2012_em
    python -m assignments.a6_segmentation --smoke            synthetic EM slices, under a minute
    python -m assignments.a6_segmentation --dataset sample3d    the 3D path (synthetic Decathlon-layout volumes)

``run(config)`` performs one whole run and returns its run folder.
"""

import functools
import time

import numpy as np

from common.evaluate import evaluate_predictions
from common.profiling import count_parameters
from common.results import score_split
from common.run import start_run
from common.segmentation import adapted_rand_error, predict_tiled
from common.train import fit_model

from .config import ASSIGNMENT
from .data import level_multiple, load_segmentation, training_batches
from .model import build_model, compile_segmenter
from .report import write_report


def filters_for(config, dimensions):
    return config.filters if dimensions == 2 else config.filters_3d


def predict_cases(model, x, config):
    """Whole images (or volumes) predicted tile by tile at the training crop size: scores (N, ..., K)."""
    _, crop = level_multiple(config, x.ndim - 2)
    return predict_tiled(model, x, crop, overlap=config.tile_overlap, batch_size=config.batch_size)


def rand_errors(y_true, scores, dimensions):
    """The adapted Rand error of each test slice's cell regions (2D binary masks only), or None."""
    if dimensions != 2 or scores.shape[-1] != 2:
        return None
    predicted = scores.argmax(axis=-1)
    return [adapted_rand_error(truth, guess) for truth, guess in zip(y_true, predicted)]


def builders(config, data):
    """{model name: a function building its uncompiled model} for ``config.models``, each taking one training
    crop with its channel, (crop, crop, 1) or (crop, crop, crop, 1), and the same widths."""
    _, crop = level_multiple(config, data.dimensions)
    shape = (crop,) * data.dimensions + (1,)
    filters = filters_for(config, data.dimensions)
    return {name: functools.partial(build_model, name, shape, len(data.class_names), filters, config.dropout_rate)
            for name in config.models}


def train_model(name, config, data, run, strategy):
    """Train one model from the run's seed on random augmented crops; early stopping and the checkpoint follow
    the pixel accuracy on the validation images cut into non-overlapping crops (the choice between the models
    uses the whole validation images, predicted by tiling)."""
    num_classes = len(data.class_names)
    _, crop = level_multiple(config, data.dimensions)
    build_uncompiled = builders(config, data)[name]

    def build():
        return compile_segmenter(build_uncompiled(), config.learning_rate, config.dice_weight)

    # Validation on whole images needs a model that takes them; the tiled validation of the best epoch follows.
    validation = _validation_crops(data, crop)
    print(f"[{name}] training on random {crop}-px crops ({config.steps_per_epoch} batches of {config.batch_size} "
          "per epoch)", flush=True)
    return fit_model(build, training_batches(data.x_train, data.y_train, num_classes, config, config.seed),
                     validation, run.model_folder(name), epochs=config.epochs, batch_size=config.batch_size,
                     monitor="val_accuracy", mode="max", patience=config.patience,
                     reduce_lr_patience=config.reduce_lr_patience, strategy=strategy, resume=config.resume,
                     verbose=config.verbose, tensorboard=config.tensorboard, seed=config.seed)


def _validation_crops(data, crop):
    """The validation images cut into non-overlapping crops (the model's input size) with their one-hot masks."""
    x, y = data.x_val, data.y_val
    spatial = x.shape[1:-1]
    grid = [range(0, side - crop + 1, crop) for side in spatial]
    windows = [tuple(slice(start, start + crop) for start in origin) for origin in np.stack(
        np.meshgrid(*grid, indexing="ij"), -1).reshape(-1, len(spatial))]
    images = np.concatenate([x[(slice(None), *window)] for window in windows])
    masks = np.concatenate([y[(slice(None), *window)] for window in windows])
    return images, np.eye(len(data.class_names), dtype=np.float32)[masks]


def evaluate(name, fit, data, run, config):
    """Validation pixel error (for the choice) and the one test evaluation of one model; returns (row, scores)."""
    validation = evaluate_predictions(data.y_val, predict_cases(fit.model, data.x_val, config), "segmentation",
                                      data.class_names)
    started = time.perf_counter()
    scores = predict_cases(fit.model, data.x_test, config)
    seconds = time.perf_counter() - started
    rand = rand_errors(data.y_test, scores, data.dimensions)
    trainable, total = count_parameters(fit.model)
    row = score_split(run, name, "test", data.y_test, scores, task="segmentation", class_names=data.class_names,
                      dataset=data.dataset, model_file=run.relative(fit.folder / "best.keras"),
                      val_pixel_error=validation["pixel_error"], val_mean_dice=validation["mean_dice"],
                      adapted_rand_error=None if rand is None else float(np.mean(rand)),
                      adapted_rand_error_per_case=rand, parameters=total, trainable_parameters=trainable,
                      train_seconds=fit.train_seconds, epochs_run=fit.epochs_run, best_epoch=fit.best_epoch,
                      predict_seconds_per_case=seconds / len(data.x_test))
    return row, scores


def run(config):
    """Run assignment 6 end to end; returns the run folder (a ``pathlib.Path``)."""
    session = start_run(config)
    data = load_segmentation(config)
    run = session.open_folder(ASSIGNMENT)
    print(f"[data] {data.describe()}", flush=True)
    fits = {name: train_model(name, config, data, run, session.strategy) for name in config.models}

    # The test images are used here once per model, after training and the choice on validation.
    rows, scores = [], {}
    for name, fit in fits.items():
        row, scores[name] = evaluate(name, fit, data, run, config)
        rows.append(row)
    best = min(rows, key=lambda row: row["val_pixel_error"])["model"]
    run.write_metrics(rows, data=data.summary(), best_on_validation=best,
                      filters=list(filters_for(config, data.dimensions)))
    write_report(run, config, data, fits, rows, scores, best)
    return run.path
