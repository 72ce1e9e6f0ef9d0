"""Assignment 4, the experiment on MedMNIST v2: load the sets, train every model of the chosen problems, choose on
validation, evaluate each model once on its test split, quantize the chosen custom CNN. ``report.py`` draws the
figures (learning curves, ROC, confusion matrices, Grad-CAM) and writes the report.

    python -m assignments.a4_medmnist                       problems 1-3 on AdrenalMNIST3D (28) and RetinaMNIST (28)
    python -m assignments.a4_medmnist --problems 2 --image-dataset chestmnist
    python -m assignments.a4_medmnist --smoke               the synthetic sample files, about a minute

``run(config)`` performs one whole run and returns its run folder.
"""

import dataclasses
from pathlib import Path

from common.augment import augmented_dataset, mixup_batches
from common.evaluate import evaluate_predictions
from common.models.transfer import choose_transfer_weights, copy_weights_by_name
from common.profiling import count_parameters
from common.reproducibility import set_seed
from common.results import score_split
from common.run import start_run
from common.train import FitResult, fit_model, predict_scores, save_final_model

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
    val: dict | None = None  # validation metrics of the final model (batch norm re-estimated)
    model_file: Path | None = None  # the saved final model

    @property
    def val_auc(self):
        return self.val["auc"] if self.val and self.val["auc"] is not None else float("nan")


def train_model(name, problem, description, build, data, config, run, strategy, *, epochs, batch_size, patience,
                monitor, augmentation=None, reduce_lr_patience=None, note=""):
    """Train one model into ``run/name`` from the run's random state, then finalise it: batch norm re-estimated
    on the clean training images (``save_final_model``), validation scored before and after. ``augmentation``
    holds ``augmented_dataset`` keyword arguments and ``mixup_alpha``, or is None for the plain images."""
    set_seed(config.seed)
    targets = data.targets(data.y_train)
    train = (data.x_train, targets)
    if augmentation is not None:
        augmentation = dict(augmentation)
        mixup_alpha = augmentation.pop("mixup_alpha", 0.0)
        train = augmented_dataset(data.x_train, targets, batch_size, config.seed, **augmentation)
        if mixup_alpha:
            train = mixup_batches(train, mixup_alpha, config.seed + 1)  # a random stream of its own
    print(f"[{name}] training ({'with' if augmentation is not None else 'without'} augmentation)", flush=True)
    fit = fit_model(build, train, (data.x_val, data.targets(data.y_val)), run.model_folder(name), epochs=epochs,
                    batch_size=batch_size, monitor=monitor, mode="max" if "auc" in monitor else "min",
                    patience=patience, reduce_lr_patience=reduce_lr_patience, strategy=strategy,
                    resume=config.resume, verbose=config.verbose, tensorboard=config.tensorboard, task=data.task)
    trained = Trained(name, problem, description, fit, data, augmentation is not None, note)
    trained.val_checkpoint = evaluate_predictions(data.y_val, predict_scores(fit.model, data.x_val, batch_size),
                                                  data.task, data.class_names)
    trained.model_file = save_final_model(fit, data.x_train, batch_size)
    trained.val = evaluate_predictions(data.y_val, predict_scores(fit.model, data.x_val, batch_size), data.task,
                                       data.class_names)
    return trained


def _variants(augment, compare):
    """The variants to train, with augmentation and without: both when ``compare``, else ``augment``'s."""
    return (True, False) if compare else (augment,)


def _positive_weights(config, data):
    return positive_weights_from_labels(data.y_train) if data.task == "multi-label" and config.positive_weights \
        else None


def cnn3d_builder(config, data):
    """Problem 1's 3D CNN for the volumes of ``data``: a function of no arguments that builds and compiles it."""
    def build():
        model = build_cnn3d(data.x_train.shape[1:], data.num_outputs, config.cnn3d_filters,
                            config.cnn3d_convs_per_stage, config.cnn3d_dense_units, config.cnn3d_dropout_rate)
        return compile_for_task(model, data.task, config.cnn3d_learning_rate)

    return build


def custom_cnn_builder(config, data):
    """Problem 2-A's custom CNN for the images of ``data``: a function of no arguments that builds and compiles it."""
    def build():
        model = build_custom_cnn_for_task(data.x_train.shape[1:], data.num_outputs, data.task, config.cnn_filters,
                                          config.cnn_dense_units, config.cnn_dropout_rate)
        return compile_for_task(model, data.task, config.learning_rate, _positive_weights(config, data))

    return build


def vgg16_builder(config, data, weights, trainable_blocks, learning_rate, start_from=None):
    """Problem 2-B's VGG16 for the images of ``data``: a function of no arguments that builds and compiles it.
    ``weights`` is "imagenet" or None (random); ``trainable_blocks`` 0 (frozen) or 1 (block 5 fine-tuned);
    ``start_from`` a trained VGG16 whose weights the new one starts from (fine-tuning continues the frozen model)."""
    def build():
        model = build_vgg16_for_task(data.x_train.shape[1:], data.num_outputs, data.task, weights=weights,
                                     trainable_blocks=trainable_blocks, image_size=config.vgg_image_size,
                                     dense_units=config.vgg_dense_units)
        if start_from is not None:  # fine-tuning continues from the trained head (and the same backbone)
            copy_weights_by_name(start_from, model)
        return compile_for_task(model, data.task, learning_rate, _positive_weights(config, data))

    return build


def resnet_builder(config, data):
    """Problem 3's ResNet for the images of ``data``: a function of no arguments that builds and compiles it."""
    def build():
        model = build_resnet_for_task(data.x_train.shape[1:], data.num_outputs, data.task, config.resnet_blocks,
                                      config.resnet_filters, config.resnet_dropout_rate)
        return compile_for_task(model, data.task, config.learning_rate, _positive_weights(config, data))

    return build


def builders(config, volumes, images):
    """The builders of the run's networks, one per architecture of the problems in ``config.problems``:
    {name: function of no arguments -> compiled ``keras.Model``}, for looking at the models before training
    (``volumes`` / ``images``: the ``TaskData`` of the 3D and 2D set, None when no problem needs it). VGG16 is
    built with random weights here, so that nothing is downloaded; the run loads ImageNet's into the same layers."""
    found = {}
    if 1 in config.problems:
        found["p1_cnn3d"] = cnn3d_builder(config, volumes)
    if 2 in config.problems:
        found["p2_custom_cnn"] = custom_cnn_builder(config, images)
        if config.vgg:
            found["p2_vgg16_frozen"] = vgg16_builder(config, images, None, 0, config.vgg_learning_rate)
    if 3 in config.problems:
        found["p3_resnet"] = resnet_builder(config, images)
    return found


def problem1(config, run, strategy, data):
    """P1: a 3D CNN from scratch, with and without 3D augmentation."""
    build = cnn3d_builder(config, data)
    return [train_model(f"p1_cnn3d_{'aug' if augment else 'noaug'}", "P1",
                        "3D CNN from scratch" + (" + 3D augmentation" if augment else ""), build, data, config, run,
                        strategy, epochs=config.cnn3d_epochs, batch_size=config.cnn3d_batch_size,
                        patience=config.cnn3d_patience, monitor=config.cnn3d_monitor,
                        augmentation=config.augmentation_3d() if augment else None,
                        reduce_lr_patience=config.cnn3d_reduce_lr_patience)
            for augment in _variants(config.cnn3d_augment, config.cnn3d_compare_augmentation)]


def problem2_custom_cnn(config, run, strategy, data):
    """P2-A: the deeper custom CNN with and without augmentation (rotation, flips, scaling, mixup)."""
    build = custom_cnn_builder(config, data)
    extras = " + augmentation" + (" + mixup" if config.mixup_alpha else "")
    return [train_model(f"p2_custom_cnn_{'aug' if augment else 'noaug'}", "P2-A",
                        "custom CNN from scratch" + (extras if augment else ""), build, data, config, run, strategy,
                        epochs=config.epochs, batch_size=config.batch_size, patience=config.patience,
                        monitor=config.monitor, augmentation=config.augmentation_2d() if augment else None,
                        reduce_lr_patience=config.reduce_lr_patience)
            for augment in _variants(config.augment, config.compare_augmentation)]


def vgg_weights(config, data):
    """How the VGG16 rows are trained: ImageNet weights when they can be had, skipped without them (or from random
    weights with --vgg-weights random); see ``choose_transfer_weights``."""
    return choose_transfer_weights(config.vgg_weights, lambda: build_vgg16_for_task(
        data.x_train.shape[1:], data.num_outputs, data.task, weights="imagenet", image_size=config.vgg_image_size),
        "--vgg-weights")


def problem2_vgg16(config, run, strategy, data, transfer):
    """P2-B: VGG16 with its backbone frozen, then with its last block fine-tuned from the frozen model."""
    augmentation = config.augmentation_2d() if config.augment else None
    common = {"data": data, "config": config, "run": run, "strategy": strategy, "epochs": config.vgg_epochs,
              "batch_size": config.batch_size, "patience": config.vgg_patience, "monitor": config.monitor,
              "augmentation": augmentation, "note": transfer.note}
    frozen = train_model("p2_vgg16_frozen", "P2-B", f"VGG16, backbone frozen, {config.vgg_image_size} px",
                         vgg16_builder(config, data, transfer.weights, 0, config.vgg_learning_rate), **common)
    fine_tuned = train_model("p2_vgg16_finetuned", "P2-B", f"VGG16, block 5 fine-tuned, {config.vgg_image_size} px",
                             vgg16_builder(config, data, transfer.weights, 1, config.vgg_fine_tune_learning_rate,
                                           start_from=frozen.fit.model), **common)
    return [frozen, fine_tuned]


def problem3(config, run, strategy, data):
    """P3: a ResNet from scratch with the small-input stem."""
    build = resnet_builder(config, data)
    augment = config.augment
    description = (f"ResNet from scratch ({'-'.join(map(str, config.resnet_blocks))} basic blocks, 3x3 stem)"
                   + (" + augmentation" + (" + mixup" if config.mixup_alpha else "") if augment else ""))
    return [train_model("p3_resnet", "P3", description, build, data, config, run, strategy, epochs=config.epochs,
                        batch_size=config.batch_size, patience=config.patience, monitor=config.monitor,
                        augmentation=config.augmentation_2d() if augment else None,
                        reduce_lr_patience=config.reduce_lr_patience)]


def selection(candidates):
    """The candidate with the best validation AUC (ties: validation accuracy), chosen without looking at test."""
    chosen = max(candidates, key=lambda trained: (trained.val_auc, trained.val["accuracy"]))
    return {"chosen": chosen.name, "metric": "validation AUC (ties: validation accuracy)",
            "candidates": {model.name: model.val_auc for model in candidates}}


def evaluate_on_test(trained, run, batch_size):
    """The one evaluation of a model on its test split: its result row, and the scores."""
    data, model = trained.data, trained.fit.model
    scores = predict_scores(model, data.x_test, batch_size)
    trainable, total = count_parameters(model)
    row = score_split(run, trained.name, data.test_split, data.y_test, scores, task=data.task,
                      class_names=data.class_names, dataset=data.dataset, model_file=run.relative(trained.model_file),
                      problem=trained.problem, description=trained.description, val_accuracy=trained.val["accuracy"],
                      val_auc=trained.val["auc"], val_auc_checkpoint=trained.val_checkpoint["auc"],
                      augment=trained.augment, parameters=total, trainable_parameters=trainable,
                      epochs_run=trained.fit.epochs_run, best_epoch=trained.fit.best_epoch,
                      train_seconds=trained.fit.train_seconds, note=trained.note)
    return row, scores


def run(config):
    """Run assignment 4 end to end; returns the run folder (a ``pathlib.Path``)."""
    session = start_run(config)
    # Both data sets are read before the run folder exists: missing data leaves no empty folder behind.
    volumes = load_task_data(config.volume_dataset, config.volume_size, config) if 1 in config.problems else None
    images = load_task_data(config.image_dataset, config.image_size, config) if {2, 3} & set(config.problems) else None
    run = session.open_folder(ASSIGNMENT)
    for data in (volumes, images):
        if data is not None:
            print(f"[data] {data.describe()}", flush=True)

    trained, chosen, qat_future, transfer = {}, {}, None, None
    if 1 in config.problems:
        p1 = problem1(config, run, session.strategy, volumes)
        trained.update({model.name: model for model in p1})
        chosen["p1_cnn3d"] = selection(p1)
    if 2 in config.problems:
        custom = problem2_custom_cnn(config, run, session.strategy, images)
        trained.update({model.name: model for model in custom})
        chosen["p2_custom_cnn"] = selection(custom)
        if config.quantize:  # quantization-aware training runs in a child process while the others train
            qat_future = start_qat(trained[chosen["p2_custom_cnn"]["chosen"]], config, run)
        transfer = vgg_weights(config, images) if config.vgg else None
        if transfer is not None:
            print(f"[vgg16] {transfer.note}", flush=True)
        if transfer is not None and transfer.train:
            vgg = problem2_vgg16(config, run, session.strategy, images, transfer)
            trained.update({model.name: model for model in vgg})
            chosen["p2_vgg16"] = selection(vgg)
    if 3 in config.problems:
        trained.update({model.name: model for model in problem3(config, run, session.strategy, images)})
    from_scratch = [model for model in trained.values() if model.problem in ("P2-A", "P3")]
    if from_scratch:
        chosen["from_scratch_2d"] = selection(from_scratch)

    # Every choice above was made on validation; now each model meets its test split, once.
    rows, scores = [], {}
    for name, model in trained.items():
        row, scores[name] = evaluate_on_test(model, run, config.cnn3d_batch_size if model.problem == "P1"
                                             else config.batch_size)
        rows.append(row)
    quantization = (quantize_model(trained[chosen["p2_custom_cnn"]["chosen"]], config, run, qat_future)
                    if 2 in config.problems and config.quantize else None)

    sets = {data.key: data.summary() for data in (volumes, images) if data is not None}
    run.write_metrics(
        rows, data={"title": "; ".join(entry["title"] for entry in sets.values()),
                    "sample": any(entry["sample"] for entry in sets.values()), "sets": sets},
        selection=chosen, quantization=quantization,
        vgg16={"weights": transfer.weights, "trained": transfer.train, "note": transfer.note} if transfer else None)
    write_report(run, config, trained, rows, scores, chosen, quantization, transfer)
    return run.path
