"""Assignment 3, the experiment: load and preprocess the volumes, train the four approaches on the same split,
name the best on validation, and evaluate every approach once on test. ``report.py`` draws the figures (planes,
preprocessing, Grad-CAM, ROC, learning curves) and writes the report.

    python -m assignments.a3_mri_fusion                                  synthetic stand-in volumes
    DATA_DIR=/path/to/data python -m assignments.a3_mri_fusion --dataset adrenalmnist3d_64
    python -m assignments.a3_mri_fusion --data /path/to/volumes          your root/<class>/<case>.nii.gz
"""

import numpy as np

from common.augment import augmented_dataset
from common.datasets.splits import class_weights
from common.evaluate import evaluate_predictions
from common.profiling import count_parameters, measure_latency
from common.reproducibility import set_seed
from common.results import score_split
from common.run import start_run
from common.train import fit_model, predict_scores

from .config import ASSIGNMENT
from .data import choose_slice, load_volumes
from .model import (
    build_early_fusion_model,
    build_late_fusion_model,
    build_resnet3d,
    build_single_slice_model,
    compile_classifier,
)
from .report import write_report

# The voxel axis that runs left <-> right in the model layout (D, H, W, C): mirror images of a brain are
# plausible scans, while flipping head and feet or front and back is not.
LEFT_RIGHT_AXIS = 2


def builders(config, volume_shape, num_classes, slice_index):
    """{approach: a function building its uncompiled model}."""
    return {
        "single_slice": lambda: build_single_slice_model(volume_shape, num_classes, slice_index, config.filters_2d,
                                                         config.dropout_rate),
        "late_fusion": lambda: build_late_fusion_model(volume_shape, num_classes, config.late_fusion_filters,
                                                       config.dropout_rate),
        "early_fusion": lambda: build_early_fusion_model(volume_shape, num_classes, config.filters_2d,
                                                         config.dropout_rate),
        "resnet3d": lambda: build_resnet3d(volume_shape, num_classes, config.resnet_blocks, config.resnet_filters,
                                           config.dropout_rate, config.resnet_stem_strides),
    }


def train_approach(name, build, config, data, run, strategy):
    """Train one approach from the same random state as the others; early stopping and the checkpoint follow
    the exact validation AUC."""
    num_classes = len(data.class_names)
    one_hot = np.eye(num_classes, dtype=np.float32)
    set_seed(config.seed)
    train = (augmented_dataset(data.x_train, one_hot[data.y_train], config.batch_size, config.seed,
                               flip_axes=(LEFT_RIGHT_AXIS,), max_shift=2) if config.augment
             else (data.x_train, one_hot[data.y_train]))
    print(f"[{name}] training", flush=True)
    return fit_model(lambda: compile_classifier(build(), config.learning_rate), train,
                     (data.x_val, one_hot[data.y_val]), run.model_folder(name), epochs=config.epochs,
                     batch_size=config.batch_size, monitor="val_auc", mode="max", patience=config.patience,
                     reduce_lr_patience=config.reduce_lr_patience, strategy=strategy, resume=config.resume,
                     verbose=config.verbose, tensorboard=config.tensorboard, task=data.task,
                     class_weight=class_weights(data.y_train, num_classes) if config.class_weight else None)


def evaluate(name, fit, data, run, config):
    """Validation metrics (for the choice) and the one test evaluation of one approach; returns (row, scores)."""
    validation = evaluate_predictions(data.y_val, predict_scores(fit.model, data.x_val, config.batch_size),
                                      data.task, data.class_names)
    scores = predict_scores(fit.model, data.x_test, config.batch_size)
    trainable, total = count_parameters(fit.model)
    latency = measure_latency(fit.model, data.x_test[:1], batch_size=min(32, len(data.x_test)), repeats=20)
    row = score_split(run, name, "test", data.y_test, scores, task=data.task, class_names=data.class_names,
                      dataset=data.dataset, model_file=run.relative(fit.folder / "best.keras"),
                      val_accuracy=validation["accuracy"], val_auc=validation["auc"], parameters=total,
                      trainable_parameters=trainable, train_seconds=fit.train_seconds, epochs_run=fit.epochs_run,
                      best_epoch=fit.best_epoch, latency_ms_per_volume=latency["batch1_ms"],
                      latency_batched_ms_per_volume=latency["batched_ms_per_image"])
    return row, scores


def run(config):
    """Run assignment 3 end to end; returns the run folder (a ``pathlib.Path``)."""
    session = start_run(config)
    print("[data] reading and preprocessing the volumes", flush=True)
    data = load_volumes(config)
    run = session.open_folder(ASSIGNMENT)
    print(f"[data] {data.describe()}", flush=True)
    slice_index, slice_scores = choose_slice(data.x_train, data.y_train, config.slice_selection)
    build = builders(config, data.x_train.shape[1:], len(data.class_names), slice_index)
    fits = {name: train_approach(name, build[name], config, data, run, session.strategy) for name in config.approaches}

    # The test split is used here once per approach, after every choice was made on validation.
    rows, scores = [], {}
    for name, fit in fits.items():
        row, scores[name] = evaluate(name, fit, data, run, config)
        rows.append(row)
    best = max(rows, key=lambda row: (row["val_auc"] or 0.0, row["val_accuracy"]))["model"]
    run.write_metrics(rows, data=data.summary(), best_on_validation=best, slice_index=slice_index)
    write_report(run, config, data, fits, rows, scores, best, slice_index, slice_scores)
    return run.path
