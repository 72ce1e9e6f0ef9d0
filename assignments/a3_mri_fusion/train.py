"""Assignment 3, end to end: load and preprocess the volumes, train the four approaches on the same split,
pick the best on validation, evaluate every approach once on test, explain them with Grad-CAM, report.

    python -m assignments.a3_mri_fusion                                  synthetic stand-in volumes
    DATA_DIR=../shared/data python -m assignments.a3_mri_fusion --data adrenalmnist3d_64
    python -m assignments.a3_mri_fusion --data /path/to/volumes          your root/<class>/<case>.nii.gz
"""

import platform
import time

import numpy as np

from common.augment import augmented_dataset
from common.datasets.splits import class_weights
from common.evaluate import evaluate_predictions
from common.gradcam import grad_cam, overlay
from common.planes import plot_planes
from common.plots import plot_confusion_matrix, plot_learning_curves, plot_roc_comparison
from common.profiling import count_parameters, measure_latency
from common.report import RunFolder, markdown_table, sample_data_banner
from common.reproducibility import set_seed
from common.train import fit_model, get_strategy, predict_scores, set_mixed_precision

from .config import ASSIGNMENT
from .data import load_volumes
from .model import (
    build_early_fusion_model,
    build_late_fusion_model,
    build_resnet3d,
    build_single_slice_model,
    compile_classifier,
    gradcam_layer_name,
)

# Published MedMNIST v2 rows for AdrenalMNIST3D (test AUC / ACC), shown beside runs on that set.
ADRENAL_REFERENCES = [
    {"model": "ResNet-18 + 3D (28)", "auc": 0.827, "accuracy": 0.721, "note": "unconfirmed"},
    {"model": "ResNet-50 + 3D (28)", "auc": 0.828, "accuracy": 0.745, "note": ""},
    {"model": "ResNet-18 + ACS (28)", "auc": 0.839, "accuracy": 0.754, "note": "unconfirmed"},
    {"model": "auto-sklearn", "auc": 0.828, "accuracy": 0.802, "note": "unconfirmed"},
]
MEDMNIST_SOURCE = ("Yang et al., MedMNIST v2, Scientific Data 10, 41 (2023); rows marked unconfirmed were not "
                   "re-checked against the paper")
# The voxel axis that runs left <-> right in the model layout (D, H, W, C): mirror images of a brain are
# plausible scans, while flipping head and feet or front and back is not.
LEFT_RIGHT_AXIS = 2


def choose_slice(x, y, mode):
    """The axial slice the single-slice model sees: the middle one, or the most informative one.

    "informative" ranks every slice by how well its mean and its standard deviation separate the classes on
    the given (training) volumes, as the ratio of between-class to within-class variance, and takes the best.

    Args:
        x: float32 (N, D, H, W, 1) training volumes; y: int (N,) labels.

    Returns:
        (slice index, per-slice scores or None).
    """
    depth = x.shape[1]
    if mode == "central":
        return depth // 2, None
    features = np.stack([x.mean(axis=(2, 3, 4)), x.std(axis=(2, 3, 4))])  # (2, N, D)
    classes = np.unique(y)
    class_means = np.stack([features[:, y == label].mean(axis=1) for label in classes])  # (K, 2, D)
    between = class_means.var(axis=0)
    within = np.stack([features[:, y == label].var(axis=1) for label in classes]).mean(axis=0)
    scores = (between / (within + 1e-8)).max(axis=0)
    return int(np.argmax(scores)), scores


def _builders(config, volume_shape, num_classes, slice_index):
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


def _train(name, build, config, data, run_folder, strategy):
    num_classes = len(data.class_names)
    one_hot = np.eye(num_classes, dtype=np.float32)
    set_seed(config.seed)  # every approach starts from the same random state
    if config.augment:
        train = augmented_dataset(data.x_train, one_hot[data.y_train], config.batch_size, config.seed,
                                  flip_axes=(LEFT_RIGHT_AXIS,), max_shift=2)
    else:
        train = (data.x_train, one_hot[data.y_train])
    print(f"[{name}] training", flush=True)
    return fit_model(lambda: compile_classifier(build(), config.learning_rate), train,
                     (data.x_val, one_hot[data.y_val]), run_folder.model_folder(name), epochs=config.epochs,
                     batch_size=config.batch_size, monitor="val_auc", mode="max", patience=config.patience,
                     reduce_lr_patience=config.reduce_lr_patience, strategy=strategy, resume=config.resume,
                     verbose=config.verbose,
                     class_weight=class_weights(data.y_train, num_classes) if config.class_weight else None)


def _evaluate(name, fit, data, run_folder, dataset, config):
    """Validation metrics (for the choice) and the one test evaluation of one approach."""
    validation = evaluate_predictions(data.y_val, predict_scores(fit.model, data.x_val, config.batch_size),
                                      data.task, data.class_names)
    scores = predict_scores(fit.model, data.x_test, config.batch_size)
    test = evaluate_predictions(data.y_test, scores, data.task, data.class_names)
    run_folder.save_predictions(name, "test", data.y_test, scores, data.class_names)
    trainable, total = count_parameters(fit.model)
    latency = measure_latency(fit.model, data.x_test[:1], batch_size=min(32, len(data.x_test)), repeats=20)
    row = {
        "model": name, "dataset": dataset, "split": "test", "accuracy": test["accuracy"], "auc": test["auc"],
        "balanced_accuracy": test["balanced_accuracy"], "macro_f1": test["macro_f1"],
        "val_accuracy": validation["accuracy"], "val_auc": validation["auc"], "parameters": total,
        "trainable_parameters": trainable, "train_seconds": fit.train_seconds, "epochs_run": fit.epochs_run,
        "best_epoch": fit.best_epoch, "latency_ms_per_volume": latency["batch1_ms"],
        "latency_batched_ms_per_volume": latency["batched_ms_per_image"],
        "model_file": str((fit.folder / "best.keras").relative_to(run_folder.path)),
        "per_class": test["per_class"], "confusion_matrix": test["confusion_matrix"],
    }
    return row, scores


def run(config):
    """Run assignment 3 end to end; returns the run folder (a ``pathlib.Path``)."""
    started = time.perf_counter()
    strategy = get_strategy(config.strategy)  # before any other TensorFlow work (multi-worker needs it)
    set_seed(config.seed)
    set_mixed_precision(config.mixed_precision)
    print("[data] reading and preprocessing the volumes", flush=True)
    data = load_volumes(config)  # before the run folder: missing data leaves no empty folder behind
    run_folder = RunFolder.open(config.runs_dir, ASSIGNMENT, resume=config.resume)
    run_folder.start(config)
    print(f"[run] {run_folder.path}", flush=True)
    print(f"[data] {data.title}: {len(data.y_train)} train / {len(data.y_val)} validation / {len(data.y_test)} "
          f"test volumes of {data.x_train.shape[1:4]} (D, H, W)", flush=True)
    dataset = config.data if not data.sample else "mri-tumour-synthetic"
    slice_index, slice_scores = choose_slice(data.x_train, data.y_train, config.slice_selection)
    builders = _builders(config, data.x_train.shape[1:], len(data.class_names), slice_index)

    fits, rows, scores = {}, [], {}
    for name in config.approaches:
        fits[name] = _train(name, builders[name], config, data, run_folder, strategy)
    # The test split is used here once per approach, after every choice was made on validation.
    for name, fit in fits.items():
        row, scores[name] = _evaluate(name, fit, data, run_folder, dataset, config)
        rows.append(row)
    best = max(rows, key=lambda row: (row["val_auc"] or 0.0, row["val_accuracy"]))["model"]
    figures = _figures(config, run_folder, data, fits, rows, scores, slice_index)
    elapsed = time.perf_counter() - started
    run_folder.write_metrics(
        rows, data={"title": data.title, "source": data.source, "md5": data.md5, "sample": bool(data.sample),
                    "split": data.split, "skipped_files": data.skipped, "class_names": data.class_names,
                    "volume_shape": list(data.x_train.shape[1:])},
        best_on_validation=best, slice_index=slice_index, seed=config.seed, wall_seconds=elapsed,
        environment={"python": platform.python_version(), "machine": platform.machine()},
    )
    run_folder.write_report(_report(config, data, rows, best, slice_index, slice_scores, figures, elapsed))
    return run_folder.path


def _gradcam_figure(run_folder, data, fits, config, slice_index):
    """Rows: test cases (a few per class); columns: the axial slice each approach's heat map peaks on
    (the single-slice model's own slice), with the heat map over it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    picks = [int(index) for label in range(len(data.class_names))
             for index in np.flatnonzero(data.y_test == label)[: config.gradcam_cases_per_class]]
    if not picks or not fits:
        return None
    volumes = data.x_test[picks]
    depth, height, width = volumes.shape[1:4]
    figure, axes = plt.subplots(len(picks), len(fits), figsize=(2.3 * len(fits), 2.4 * len(picks)), squeeze=False)
    for column, (name, fit) in enumerate(fits.items()):
        two_dimensional = name in ("single_slice", "early_fusion")
        maps, classes = grad_cam(fit.model, volumes, layer_name=gradcam_layer_name(name, config.resnet_blocks),
                                 resize_to=(height, width) if two_dimensional else None)
        for row, index in enumerate(picks):
            if name == "single_slice":
                shown, heat = slice_index, maps[row]
            elif name == "early_fusion":  # one in-plane map for the whole stack: shown on the middle slice
                shown, heat = depth // 2, maps[row]
            else:
                shown = int(np.argmax(maps[row].reshape(depth, -1).max(axis=1)))
                heat = maps[row][shown]
            axis = axes[row, column]
            axis.imshow(overlay(_radiological(volumes[row, shown, ..., 0]), _radiological(heat)))
            axis.set_title(f"{name}\ntrue {data.class_names[data.y_test[index]]}, "
                           f"explains {data.class_names[classes[row]]}\nslice {shown}", fontsize=7)
            axis.axis("off")
    path = run_folder.figures / "gradcam.png"
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _radiological(axial_yx):
    """An axial slice indexed (Y, X) in RAS+ as a radiologist views it: anterior up, patient's right on the left."""
    return axial_yx[::-1, ::-1]


def _preprocessing_figure(run_folder, data):
    """The middle axial slice of one training case per class, before and after preprocessing."""
    from common.plots import plot_image_grid

    images, titles = [], []
    for name, raw, _, position in data.examples:
        processed = data.x_train[position, :, :, :, 0]
        images += [_radiological(raw[:, :, raw.shape[2] // 2].T), _radiological(processed[processed.shape[0] // 2])]
        titles += [f"{name}: raw {raw.shape}", f"{name}: preprocessed {processed.shape}"]
    # Panels of different sizes share one grid: pad each with its own darkest value.
    height, width = max(image.shape[0] for image in images), max(image.shape[1] for image in images)
    padded = [np.pad(image, [(0, height - image.shape[0]), (0, width - image.shape[1])], constant_values=image.min())
              for image in images]
    return plot_image_grid(np.stack(padded), titles, run_folder.figures / "preprocessing.png", columns=4)


def _figures(config, run_folder, data, fits, rows, scores, slice_index):
    figures = {}
    for name, raw, spacing, _ in data.examples:
        path = run_folder.figures / f"planes_{name}.png"
        plot_planes(raw, spacing=spacing, path=path, title=f"{name}: a training case before preprocessing")
        figures[f"planes: {name}"] = path
    figures["preprocessing"] = _preprocessing_figure(run_folder, data)
    figures["learning curves"] = plot_learning_curves({name: fit.history for name, fit in fits.items()},
                                                      run_folder.figures / "learning_curves.png",
                                                      metrics=("loss", "auc"))
    figures["ROC curves"] = plot_roc_comparison(data.y_test, scores, data.class_names,
                                                run_folder.figures / "roc_test.png", task=data.task)
    for row in rows:
        figures[f"confusion: {row['model']}"] = plot_confusion_matrix(
            row["confusion_matrix"], data.class_names, run_folder.figures / f"confusion_{row['model']}.png",
            title=f"{row['model']}: test")
    gradcam = _gradcam_figure(run_folder, data, fits, config, slice_index)
    if gradcam is not None:
        figures["Grad-CAM"] = gradcam
    return {key: path.relative_to(run_folder.path) for key, path in figures.items()}


def _preprocessing_text(config):
    clahe = ", CLAHE per axial slice" if config.clahe else ""
    return (f"percentile window {config.window_low:g}-{config.window_high:g}{clahe}, trilinear resampling to "
            f"{config.depth} x {config.image_size} x {config.image_size} (D x H x W), {config.normalization} "
            "normalisation per volume")


def _report(config, data, rows, best, slice_index, slice_scores, figures, elapsed):
    banner = sample_data_banner(data.sample)
    table = markdown_table(
        rows,
        {"model": "approach", "accuracy": "test accuracy", "auc": "test AUC", "balanced_accuracy": "balanced acc.",
         "val_auc": "val AUC", "val_accuracy": "val accuracy", "parameters": "parameters",
         "train_seconds": "training (s)", "epochs_run": "epochs", "latency_ms_per_volume": "inference (ms / volume)"},
        {"accuracy": ".4f", "auc": ".4f", "balanced_accuracy": ".4f", "val_auc": ".4f", "val_accuracy": ".4f",
         "parameters": ",d", "train_seconds": ".0f", "latency_ms_per_volume": ".1f"},
    )
    references = ""
    if config.data.startswith("adrenalmnist3d") and not data.sample:
        references = ("\n## Published MedMNIST v2 rows for AdrenalMNIST3D (test)\n\n" + markdown_table(
            ADRENAL_REFERENCES, {"model": "model", "auc": "AUC", "accuracy": "accuracy", "note": "note"},
            {"auc": ".3f", "accuracy": ".3f"}) + f"\n\nSource: {MEDMNIST_SOURCE}. Those models saw 28^3 volumes.\n")
    slice_note = (f"the middle slice ({slice_index})" if slice_scores is None else
                  f"slice {slice_index} of {data.x_train.shape[1]}, whose mean and spread separate the classes best "
                  "on the training split")
    images = "\n".join(f"![{key}]({path})" for key, path in figures.items())
    md5 = f" (MD5 `{data.md5}`)" if data.md5 else ""
    return f"""# Assignment 3: 3D MRI tumour detection, four approaches compared

{banner}Data: {data.title}{md5}, from `{data.source}`. Classes: {', '.join(data.class_names)}.
Split: {data.split}: {len(data.y_train)} train / {len(data.y_val)} validation / {len(data.y_test)} test volumes.
{f"Skipped (unreadable): {len(data.skipped)} case(s), listed in metrics.json." if data.skipped else ""}

Preprocessing: {_preprocessing_text(config)}. Augmentation: {"left-right flips and shifts of up to 2 voxels"
if config.augment else "none"}.

## Results (each approach evaluated once on test; chosen on validation AUC)

{table}

**Best on validation: {best}.** Single slice uses {slice_note}. Inference time is the median of 20 calls for one
volume on this machine.
{references}
## Figures

{images}

Seed {config.seed}; whole run {elapsed:.0f} s.
"""
