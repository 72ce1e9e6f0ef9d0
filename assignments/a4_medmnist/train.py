"""Assignment 4, end to end on MedMNIST v2: load the sets, train every model of the chosen problems, pick on
validation, evaluate each model once on its test split, explain with Grad-CAM, quantize, report.

    python -m assignments.a4_medmnist                       problems 1-3 on AdrenalMNIST3D (28) and RetinaMNIST (28)
    python -m assignments.a4_medmnist --problems 2 --image-dataset chestmnist
    python -m assignments.a4_medmnist --smoke               the synthetic sample files, about a minute

``run(config)`` performs one whole run and returns its run folder.
"""

import dataclasses
from pathlib import Path

from common.atomic import save_model
from common.augment import augmented_dataset, mixup_batches
from common.evaluate import evaluate_predictions
from common.models.transfer import choose_transfer_weights, copy_weights_by_name
from common.profiling import count_parameters
from common.reproducibility import set_seed
from common.results import score_split
from common.run import start_run
from common.train import FitResult, fit_model, predict_scores, recalibrate_batch_norm

from .config import ASSIGNMENT
from .data import TaskData, load_task_data
from .model import (
    build_cnn3d,
    build_custom_cnn_for_task,
    build_resnet_for_task,
    build_vgg16_for_task,
    compile_for_task,
    positive_weights_from_labels,
)
from .quantization import quantize_model, start_qat
from .report import write_report

# The model a row reports: the best validation checkpoint with batch-norm statistics re-estimated on the clean
# training images (see _finalise).
FINAL_MODEL = "model.keras"


@dataclasses.dataclass
class Trained:
    """One trained model and what the report says about it."""

    name: str  # unique across problems: the prediction file and metrics row are named after it
    problem: str  # "P1", "P2-A", "P2-B" or "P3"
    description: str
    fit: FitResult
    data: TaskData
    augment: bool
    note: str = ""
    val_checkpoint: dict | None = None  # validation metrics of the checkpoint as saved by training
    val: dict | None = None  # validation metrics of the final (recalibrated) model
    model_file: Path | None = None  # the saved final model

    @property
    def val_auc(self):
        return self.val["auc"] if self.val and self.val["auc"] is not None else float("nan")


def _monitor_mode(monitor):
    return "max" if "auc" in monitor else "min"


def _train(name, build, data, config, run_folder, strategy, *, epochs, batch_size, patience, monitor,
           augmentation=None, reduce_lr_patience=None):
    """Train one model into ``run_folder/name``; ``augmentation`` holds ``augmented_dataset`` keyword arguments
    (flip_axes, max_shift, max_rotation, max_zoom) and optionally mixup_alpha, or is None for the plain training
    images."""
    set_seed(config.seed)  # every model starts from the same random state
    targets = data.targets(data.y_train)
    if augmentation is not None:
        augmentation = dict(augmentation)
        mixup_alpha = augmentation.pop("mixup_alpha", 0.0)
        train = augmented_dataset(data.x_train, targets, batch_size, config.seed, **augmentation)
        if mixup_alpha:
            train = mixup_batches(train, mixup_alpha, config.seed + 1)  # a random stream of its own
    else:
        train = (data.x_train, targets)
    print(f"[{name}] training ({'with' if augmentation is not None else 'without'} augmentation)", flush=True)
    return fit_model(build, train, (data.x_val, data.targets(data.y_val)), run_folder.model_folder(name),
                     epochs=epochs, batch_size=batch_size, monitor=monitor, mode=_monitor_mode(monitor),
                     patience=patience, reduce_lr_patience=reduce_lr_patience, strategy=strategy,
                     resume=config.resume, verbose=config.verbose, task=data.task)


def _finalise(trained, batch_size):
    """Re-estimate batch norm on the clean training images, save the final model, score validation.

    The checkpoint's batch-norm statistics are running averages over (augmented) training batches taken while
    the weights still moved; re-estimating them exactly on the clean training images ("precise BN",
    ``common.train.recalibrate_batch_norm``) is what the saved model and every reported number use. Only
    those statistics change; validation before and after is recorded. A model without batch norm keeps its
    checkpoint file as its final model.
    """
    data, model = trained.data, trained.fit.model
    trained.val_checkpoint = evaluate_predictions(data.y_val, predict_scores(model, data.x_val, batch_size),
                                                  data.task, data.class_names)
    if recalibrate_batch_norm(model, data.x_train, batch_size=batch_size):
        trained.model_file = save_model(model, trained.fit.folder / FINAL_MODEL)
    else:  # no batch norm (VGG16): the checkpoint is the final model, and is not written twice
        trained.model_file = trained.fit.folder / "best.keras"
    trained.val = evaluate_predictions(data.y_val, predict_scores(model, data.x_val, batch_size), data.task,
                                       data.class_names)
    return trained


def _augmentation_variants(setting):
    return {"both": (True, False), "on": (True,), "off": (False,)}[setting]


def problem1(config, run_folder, strategy, data):
    """A 3D CNN from scratch, with and without 3D augmentation."""
    augmentation = {"flip_axes": tuple(axis for axis in config.cnn3d_flip_axes), "max_shift": config.cnn3d_max_shift,
                    "max_rotation": config.cnn3d_max_rotation}
    results = []
    for augment in _augmentation_variants(config.cnn3d_augment):
        name = f"p1_cnn3d_{'aug' if augment else 'noaug'}"

        def build():
            model = build_cnn3d(data.x_train.shape[1:], data.num_outputs, config.cnn3d_filters,
                                config.cnn3d_convs_per_stage, config.cnn3d_dense_units, config.cnn3d_dropout_rate)
            return compile_for_task(model, data.task, config.cnn3d_learning_rate)

        fit = _train(name, build, data, config, run_folder, strategy, epochs=config.cnn3d_epochs,
                     batch_size=config.cnn3d_batch_size, patience=config.cnn3d_patience, monitor=config.cnn3d_monitor,
                     augmentation=augmentation if augment else None,
                     reduce_lr_patience=config.cnn3d_reduce_lr_patience)
        description = "3D CNN from scratch" + (" + 3D augmentation" if augment else "")
        results.append(_finalise(Trained(name, "P1", description, fit, data, augment), config.cnn3d_batch_size))
    return results


def _augmentation_2d(config):
    return {"flip_axes": tuple(config.flip_axes), "max_rotation": config.max_rotation, "max_zoom": config.max_zoom,
            "mixup_alpha": config.mixup_alpha}


def _positive_weights(config, data):
    if data.task != "multi-label" or not config.positive_weights:
        return None
    return positive_weights_from_labels(data.y_train)


def problem2_custom_cnn(config, run_folder, strategy, data):
    """P2-A: the deeper custom CNN with and without augmentation (rotation, flips, scaling)."""
    weights = _positive_weights(config, data)
    results = []
    for augment in _augmentation_variants(config.augment):
        name = f"p2_custom_cnn_{'aug' if augment else 'noaug'}"

        def build():
            model = build_custom_cnn_for_task(data.x_train.shape[1:], data.num_outputs, data.task, config.cnn_filters,
                                              config.cnn_dense_units, config.cnn_dropout_rate)
            return compile_for_task(model, data.task, config.learning_rate, weights)

        fit = _train(name, build, data, config, run_folder, strategy, epochs=config.epochs,
                     batch_size=config.batch_size, patience=config.patience, monitor=config.monitor,
                     augmentation=_augmentation_2d(config) if augment else None,
                     reduce_lr_patience=config.reduce_lr_patience)
        description = "custom CNN from scratch" + (" + augmentation" + (" + mixup" if config.mixup_alpha else "")
                                                    if augment else "")
        results.append(_finalise(Trained(name, "P2-A", description, fit, data, augment), config.batch_size))
    return results


def vgg_weights(config, data):
    """How the VGG16 rows are trained: ImageNet weights when they can be had, skipped without them (or from random
    weights with --vgg-weights random); see ``choose_transfer_weights``."""
    return choose_transfer_weights(config.vgg_weights, lambda: build_vgg16_for_task(
        data.x_train.shape[1:], data.num_outputs, data.task, weights="imagenet", image_size=config.vgg_image_size),
        "--vgg-weights")


def problem2_vgg16(config, run_folder, strategy, data, transfer):
    """P2-B: VGG16 with its backbone frozen, then with its last block fine-tuned from the frozen model."""
    weights, note = transfer.weights, transfer.note
    positive_weights = _positive_weights(config, data)
    augmentation = _augmentation_2d(config) if config.augment != "off" else None

    def build(trainable_blocks, learning_rate, start_from=None):
        model = build_vgg16_for_task(data.x_train.shape[1:], data.num_outputs, data.task, weights=weights,
                                     trainable_blocks=trainable_blocks, image_size=config.vgg_image_size,
                                     dense_units=config.vgg_dense_units)
        if start_from is not None:  # fine-tuning continues from the trained head (and the same backbone)
            copy_weights_by_name(start_from, model)
        return compile_for_task(model, data.task, learning_rate, positive_weights)

    frozen = _train("p2_vgg16_frozen", lambda: build(0, config.vgg_learning_rate), data, config, run_folder,
                    strategy, epochs=config.vgg_epochs, batch_size=config.batch_size, patience=config.vgg_patience,
                    monitor=config.monitor, augmentation=augmentation)
    fine_tuned = _train("p2_vgg16_finetuned",
                        lambda: build(1, config.vgg_fine_tune_learning_rate, start_from=frozen.model), data, config,
                        run_folder, strategy, epochs=config.vgg_epochs, batch_size=config.batch_size,
                        patience=config.vgg_patience, monitor=config.monitor, augmentation=augmentation)
    return [
        _finalise(Trained("p2_vgg16_frozen", "P2-B", f"VGG16, backbone frozen, {config.vgg_image_size} px", frozen,
                          data, augmentation is not None, note), config.batch_size),
        _finalise(Trained("p2_vgg16_finetuned", "P2-B", f"VGG16, block 5 fine-tuned, {config.vgg_image_size} px",
                          fine_tuned, data, augmentation is not None, note), config.batch_size),
    ]


def problem3(config, run_folder, strategy, data):
    """P3: a ResNet from scratch with the small-input stem."""
    weights = _positive_weights(config, data)
    augment = config.augment != "off"

    def build():
        model = build_resnet_for_task(data.x_train.shape[1:], data.num_outputs, data.task, config.resnet_blocks,
                                      config.resnet_filters, config.resnet_dropout_rate)
        return compile_for_task(model, data.task, config.learning_rate, weights)

    fit = _train("p3_resnet", build, data, config, run_folder, strategy, epochs=config.epochs,
                 batch_size=config.batch_size, patience=config.patience, monitor=config.monitor,
                 augmentation=_augmentation_2d(config) if augment else None,
                 reduce_lr_patience=config.reduce_lr_patience)
    stages = "-".join(map(str, config.resnet_blocks))
    description = (f"ResNet from scratch ({stages} basic blocks, 3x3 stem)"
                   + (" + augmentation" + (" + mixup" if config.mixup_alpha else "") if augment else ""))
    return [_finalise(Trained("p3_resnet", "P3", description, fit, data, augment), config.batch_size)]


def evaluate_on_test(trained, run_folder, batch_size):
    """The one evaluation of a model on its test split: its result row, and the scores."""
    data, model = trained.data, trained.fit.model
    scores = predict_scores(model, data.x_test, batch_size)
    trainable, total = count_parameters(model)
    row = score_split(run_folder, trained.name, data.test_split, data.y_test, scores, task=data.task,
                      class_names=data.class_names, dataset=data.dataset,
                      model_file=run_folder.relative(trained.model_file), problem=trained.problem,
                      description=trained.description, val_accuracy=trained.val["accuracy"],
                      val_auc=trained.val["auc"], val_auc_checkpoint=trained.val_checkpoint["auc"],
                      augment=trained.augment, parameters=total, trainable_parameters=trainable,
                      epochs_run=trained.fit.epochs_run, best_epoch=trained.fit.best_epoch,
                      train_seconds=trained.fit.train_seconds, note=trained.note)
    return row, scores


def choose_on_validation(candidates):
    """The candidate with the best validation AUC (ties: validation accuracy); never looks at test."""
    return max(candidates, key=lambda trained: (trained.val_auc, trained.val["accuracy"]))


def run(config):
    """Run assignment 4 end to end; returns the run folder (a ``pathlib.Path``)."""
    session = start_run(config)
    strategy = session.strategy
    # Both data sets are read before the run folder exists: missing data leaves no empty folder behind.
    volumes = load_task_data(config.volume_dataset, config.volume_size, config) if 1 in config.problems else None
    images = (load_task_data(config.image_dataset, config.image_size, config)
              if {2, 3} & set(config.problems) else None)
    run_folder = session.open_folder(ASSIGNMENT)
    for data in (volumes, images):
        if data is not None:
            print(f"[data] {data.describe()}", flush=True)

    trained, selection, qat_future, transfer = {}, {}, None, None
    if 1 in config.problems:
        p1 = problem1(config, run_folder, strategy, volumes)
        trained.update({model.name: model for model in p1})
        selection["p1_cnn3d"] = _selection(p1)
    if 2 in config.problems:
        custom = problem2_custom_cnn(config, run_folder, strategy, images)
        trained.update({model.name: model for model in custom})
        selection["p2_custom_cnn"] = _selection(custom)
        if config.quantize:  # quantization-aware training runs in a child process while the others train
            qat_future = start_qat(trained[selection["p2_custom_cnn"]["chosen"]], config, run_folder)
        if config.vgg:
            transfer = vgg_weights(config, images)
            print(f"[vgg16] {transfer.note}", flush=True)
        if transfer is not None and transfer.train:
            vgg = problem2_vgg16(config, run_folder, strategy, images, transfer)
            trained.update({model.name: model for model in vgg})
            selection["p2_vgg16"] = _selection(vgg)
    if 3 in config.problems:
        trained.update({model.name: model for model in problem3(config, run_folder, strategy, images)})
    from_scratch = [model for model in trained.values() if model.problem in ("P2-A", "P3")]
    if from_scratch:
        selection["from_scratch_2d"] = _selection(from_scratch)

    # Every choice above was made on validation; now each model meets its test split, once.
    rows, scores = [], {}
    for name, model in trained.items():
        batch_size = config.cnn3d_batch_size if model.problem == "P1" else config.batch_size
        row, scores[name] = evaluate_on_test(model, run_folder, batch_size)
        rows.append(row)

    quantization = None
    if 2 in config.problems and config.quantize:
        chosen = trained[selection["p2_custom_cnn"]["chosen"]]
        quantization = quantize_model(chosen, config, run_folder, qat_future)

    sets = {data.key: data.summary() for data in (volumes, images) if data is not None}
    run_folder.write_metrics(
        rows, data={"title": "; ".join(entry["title"] for entry in sets.values()),
                    "sample": any(entry["sample"] for entry in sets.values()), "sets": sets},
        selection=selection, quantization=quantization,
        vgg16={"weights": transfer.weights, "trained": transfer.train, "note": transfer.note} if transfer else None)
    write_report(run_folder, config, trained, rows, scores, selection, quantization, transfer)
    return run_folder.path


def _selection(candidates):
    chosen = choose_on_validation(candidates)
    return {"chosen": chosen.name, "metric": "validation AUC (ties: validation accuracy)",
            "candidates": {model.name: model.val_auc for model in candidates}}
