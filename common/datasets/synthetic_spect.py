"""Synthetic DaTscan-like SPECT phantoms, a stand-in for the course's (non-public) Parkinson's staging images.

A DaTscan (123I-ioflupane SPECT) shows the dopamine transporters of the striatum. On an axial slice through
the basal ganglia a healthy striatum is two bright "commas", one per hemisphere: the round head of the caudate
nucleus (anterior, medial) joined to the elongated putamen (posterior, lateral). In Parkinson's disease the
uptake falls first in the posterior putamen, usually more on one side, so the comma shrinks to a "full stop";
later the caudate fades too and the striatum approaches the background.

Each phantom is one 2D axial slice, drawn in radiological view (anterior at the top, the patient's right on
the image's left), ``shape`` = (rows, columns) = (109, 91) pixels of about 2 mm by default (the size of an
axial slice in 2 mm MNI space, as the course's PNGs are). It is built from these documented parameters:

* **Disease severity** ``s`` in [0, 1], drawn per case inside its stage's band: stage k of K has centre
  k / (K - 1) and half-width 0.35 / (K - 1) (clipped to [0, 1]), so the stages do not overlap in ``s`` but
  noise and the other parameters make neighbouring stages look alike.
* **Uptake** relative to the non-specific background (1.0): caudate ``1 + 2.6 (1 - 0.55 s_side^1.5)``,
  putamen ``1 + 2.6 (1 - 0.85 s_side) (1 - 0.5 s_side p)``, where ``p`` runs from 0 at the anterior to 1 at
  the posterior end of the putamen (the posterior putamen is lost first). Outside the brain 0.15.
* **Asymmetry**: the more affected side (random) has ``s_side = min(1, s (1 + a))``, the other
  ``s (1 - a)``, with ``a`` uniform in [0.05, 0.35].
* **Misalignment**: the head is shifted by up to +-6 px in each direction and rotated by up to +-8 degrees, so
  a fixed centre crop would miss part of the striatum; the pipeline must locate it.
* **Blur**: a Gaussian of standard deviation 1.8-2.6 px (about 8-12 mm FWHM, SPECT's resolution).
* **Noise**: Poisson counts for a count level ``lam`` uniform in [30, 90] counts per unit uptake (injected
  dose, uptake time and scan length vary), scaled by 0.64 grey levels per count and clipped to 0-255, so
  the grey level of the background varies about threefold between cases.
* **Class counts** as given (imbalanced by default: fewer advanced cases).

Every ``volume_every``-th case of a class is written as a 3D volume instead of a PNG, in turn a NIfTI
``.nii.gz`` file, a DICOM series folder and a single-slice ``.dcm`` file, so that the volume and DICOM paths of
the loaders run too. A volume has ``volume_slices`` axial slices; the striatum occupies the middle ones (a
Gaussian profile of 2.5 slices' standard deviation), the background all of them. Voxel values use the same
grey scale as the PNGs.

The folder gets ``<class>/<case>.png`` (and the volumes), ``cases.csv`` (``path,label`` and every parameter
above, per case; usable as a CSV manifest) and ``SAMPLE_DATA.json``. The images are computer-made: for demos
and tests only; numbers measured on them say nothing about patients.
"""

import csv
import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np

from common.datasets.files import write_sample_manifest

# The folder of the phantom set under its sample-data root (see common.datasets.samples).
SPECT_FOLDER = "spect_phantoms"
DEFAULT_SHAPE = (109, 91)
GREY_PER_COUNT = 0.64
BACKGROUND = 1.0
OUTSIDE_BRAIN = 0.15
STRIATAL_GAIN = 2.6
VOLUME_FORMATS = ("nii.gz", "dicom_series", "dcm")


def default_class_names(num_classes):
    """("healthy", "parkinsons") for two classes, else ("stage0", "stage1", ...): folder names that sort in
    label order."""
    if num_classes == 2:
        return ("healthy", "parkinsons")
    return tuple(f"stage{stage}" for stage in range(num_classes))


def severity_band(stage, num_stages):
    """The (low, high) severity range of ``stage`` (0-based) of ``num_stages``; see the module docstring."""
    if num_stages < 2 or not 0 <= stage < num_stages:
        raise ValueError(f"stage must lie in 0..{num_stages - 1} of at least 2 stages, got {stage} of {num_stages}.")
    centre, half_width = stage / (num_stages - 1), 0.35 / (num_stages - 1)
    return max(0.0, centre - half_width), min(1.0, centre + half_width)


@dataclasses.dataclass
class PhantomCase:
    """One phantom. ``image``: float32 (rows, columns) grey levels, blurred and (by default) noisy.
    ``background`` and ``striatum``: float32 blurred, noise-free uptake maps (relative to the background) of the
    head without striatum and of the striatum alone; the image is their sum times the count level, noised.
    ``putamen`` / ``caudate``: bool masks of the two structures (both sides). ``centre``: (row, column) of the
    striatum. ``params``: the drawn parameters."""

    image: np.ndarray
    background: np.ndarray
    striatum: np.ndarray
    putamen: np.ndarray
    caudate: np.ndarray
    centre: tuple
    params: dict


def _soft_ellipse(rows, columns, centre, radii, angle):
    """A smooth (0..1) ellipse and the position along its first axis (-1..1 inside); ``angle`` turns the first
    axis (rows) towards the columns, in radians."""
    dy, dx = rows - centre[0], columns - centre[1]
    along = dy * np.cos(angle) + dx * np.sin(angle)
    across = -dy * np.sin(angle) + dx * np.cos(angle)
    radius = np.sqrt((along / radii[0]) ** 2 + (across / radii[1]) ** 2)
    return 1.0 / (1.0 + np.exp((radius - 1.0) * 8.0)), along / radii[0]


def spect_phantom(severity, seed=0, shape=DEFAULT_SHAPE, asymmetry=None, count_level=None, shift=None,
                  rotation=None, blur=None, noise=True):
    """Draw one phantom of disease ``severity`` in [0, 1]; parameters left as None are drawn from ``seed``.

    Args:
        severity: 0 healthy .. 1 advanced.
        seed: an int or a sequence of ints for ``numpy.random.default_rng``.
        shape: (rows, columns) of the image.
        asymmetry, count_level, shift (rows, columns in px), rotation (degrees), blur (px): see the module
            docstring for their ranges.
        noise: False returns the expected (noise-free) image, for tests.

    Returns:
        A ``PhantomCase``.
    """
    from scipy.ndimage import gaussian_filter

    if not 0.0 <= severity <= 1.0:
        raise ValueError(f"severity must lie in [0, 1], got {severity}.")
    rng = np.random.default_rng(seed)
    rows_count, columns_count = shape
    unit = min(shape) / 91.0  # geometry is defined for a 91-px wide slice and scaled with the image
    asymmetry = float(rng.uniform(0.05, 0.35)) if asymmetry is None else float(asymmetry)
    affected = int(rng.choice([-1, 1]))  # -1: the image's left half (the patient's right)
    count_level = float(rng.uniform(30.0, 90.0)) if count_level is None else float(count_level)
    shift = tuple(rng.uniform(-6.0, 6.0, size=2) * unit) if shift is None else tuple(shift)
    rotation = float(rng.uniform(-8.0, 8.0)) if rotation is None else float(rotation)
    blur = float(rng.uniform(1.8, 2.6)) * unit if blur is None else float(blur)

    rows, columns = np.mgrid[0:rows_count, 0:columns_count].astype(np.float64)
    centre = (0.47 * rows_count + shift[0], 0.5 * columns_count + shift[1])
    turn = np.deg2rad(rotation)

    def place(offset_rows, offset_columns):
        """A point given relative to the striatum centre (in units), moved and turned with the head."""
        r, c = offset_rows * unit, offset_columns * unit
        return (centre[0] + r * np.cos(turn) - c * np.sin(turn), centre[1] + r * np.sin(turn) + c * np.cos(turn))

    brain, _ = _soft_ellipse(rows, columns, place(4.0, 0.0), (0.42 * rows_count, 0.40 * columns_count), -turn)
    texture = gaussian_filter(rng.normal(size=shape), 4.0 * unit)
    texture *= 0.08 / (texture.std() + 1e-12)
    background = OUTSIDE_BRAIN + (BACKGROUND * (1.0 + texture) - OUTSIDE_BRAIN) * brain
    striatum = np.zeros(shape)
    putamen_mask = np.zeros(shape, bool)
    caudate_mask = np.zeros(shape, bool)
    side_severity = {}
    for side in (-1, 1):
        level = min(1.0, severity * (1.0 + asymmetry) if side == affected else severity * (1.0 - asymmetry))
        side_severity["affected" if side == affected else "other"] = level
        caudate, _ = _soft_ellipse(rows, columns, place(-7.0, side * 6.5), (5.0 * unit, 3.5 * unit), -turn)
        # The putamen runs from anterior-medial to posterior-lateral, about 25 degrees off the A-P axis.
        putamen, position = _soft_ellipse(rows, columns, place(3.0, side * 12.0), (10.0 * unit, 3.5 * unit),
                                          -turn - side * np.deg2rad(25.0))
        posterior = np.clip((position + 1.0) / 2.0, 0.0, 1.0)
        caudate_uptake = STRIATAL_GAIN * (1.0 - 0.55 * level ** 1.5)
        putamen_uptake = STRIATAL_GAIN * (1.0 - 0.85 * level) * (1.0 - 0.5 * level * posterior)
        striatum += np.maximum(caudate * caudate_uptake, putamen * putamen_uptake) * brain
        caudate_mask |= caudate > 0.5
        putamen_mask |= (putamen > 0.5) & ~(caudate > 0.5)
    background, striatum = gaussian_filter(background, blur), gaussian_filter(striatum, blur)
    expected_counts = count_level * (background + striatum)
    counts = rng.poisson(expected_counts).astype(np.float64) if noise else expected_counts
    image = np.clip(counts * GREY_PER_COUNT, 0.0, 255.0).astype(np.float32)
    params = {"severity": float(severity), "asymmetry": asymmetry, "affected_side": "right" if affected < 0 else "left",
              "severity_affected": side_severity["affected"], "severity_other": side_severity["other"],
              "count_level": count_level, "shift_rows": float(shift[0]), "shift_columns": float(shift[1]),
              "rotation_degrees": rotation, "blur_px": blur}
    return PhantomCase(image, background.astype(np.float32), striatum.astype(np.float32), putamen_mask,
                       caudate_mask, centre, params)


def spect_phantom_volume(severity, seed=0, shape=DEFAULT_SHAPE, slices=11):
    """A 3D phantom: ``slices`` axial slices, the striatum in the middle ones (see the module docstring).

    Returns:
        (volume float32 (slices, rows, columns) in grey levels, the underlying 2D ``PhantomCase``).
    """
    case = spect_phantom(severity, seed, shape, noise=False)
    offsets = np.arange(slices) - (slices - 1) / 2.0
    profile = np.exp(-offsets ** 2 / (2 * 2.5 ** 2))[:, None, None]
    expected = case.params["count_level"] * (case.background[None] + profile * case.striatum[None])
    rng = np.random.default_rng([*np.atleast_1d(seed).tolist(), 99])
    volume = np.clip(rng.poisson(expected) * GREY_PER_COUNT, 0.0, 255.0).astype(np.float32)
    return volume, case


def display_to_ras(image):
    """A radiological-view slice (rows anterior -> posterior, columns patient right -> left) as an (X, Y) slice
    of a RAS+ volume; ``common.datasets.volumes`` loaders return volumes in RAS+."""
    return np.ascontiguousarray(np.asarray(image)[::-1, ::-1].T)


def ras_to_display(slice_xy):
    """The inverse of ``display_to_ras``: an (X, Y) RAS+ axial slice in radiological view (rows, columns)."""
    return np.ascontiguousarray(np.asarray(slice_xy).T[::-1, ::-1])


def _write_volume(volume, path_stem, kind, seed):
    """Write (slices, rows, columns) grey levels as NIfTI, a DICOM series folder or a single-slice DICOM file;
    returns the written paths."""
    from common.datasets.synthetic_mri import write_dicom_series

    ras = np.stack([display_to_ras(image) for image in volume], axis=-1)  # (X, Y, Z)
    spacing = (2.0, 2.0, 2.0)
    if kind == "nii.gz":
        import nibabel as nib

        path = path_stem.with_name(path_stem.name + ".nii.gz")
        image = nib.Nifti1Image(np.round(ras).astype(np.int16), np.diag([*spacing, 1.0]))
        image.header.set_xyzt_units("mm")
        nib.save(image, path)
        return [path]
    if kind == "dicom_series":
        return write_dicom_series(np.round(ras), path_stem, spacing, shuffle=True, seed=seed,
                                  description="synthetic DaTscan-like phantom", file_suffix=".dcm")
    # A single axial slice (the middle one) as one DICOM file, as 2D exports are stored.
    staging = path_stem.with_name(path_stem.name + "_staging")
    written = write_dicom_series(np.round(ras[:, :, ras.shape[2] // 2:ras.shape[2] // 2 + 1]), staging, spacing,
                                 seed=seed, description="synthetic DaTscan-like phantom, one slice")
    path = path_stem.with_name(path_stem.name + ".dcm")
    os.replace(written[0], path)
    shutil.rmtree(staging)
    return [path]


def write_spect_phantoms(folder, class_counts=(150, 100, 50), class_names=None, shape=DEFAULT_SHAPE, seed=0,
                         volume_every=20, volume_slices=11):
    """Write a phantom set in the class-folder layout (see the module docstring) into ``folder``.

    The set is written to a temporary sibling folder and renamed into place, so a reader never sees half a
    set, and two processes writing the same set at once both end with one complete copy.

    Args:
        folder: the folder to create; it must not exist yet (an existing one is left as it is and returned).
        class_counts: cases per class, in stage order (severity rises with the index).
        class_names: folder names; default ``default_class_names(len(class_counts))``.
        shape: (rows, columns) of every image.
        seed: the base seed; the same arguments write the same files.
        volume_every: every ``volume_every``-th case of a class is a volume (0: none).
        volume_slices: axial slices per volume.

    Returns:
        The folder.
    """
    from PIL import Image

    class_counts = tuple(int(count) for count in class_counts)
    class_names = tuple(class_names or default_class_names(len(class_counts)))
    if len(class_counts) < 2 or len(class_names) != len(class_counts) or min(class_counts) < 1:
        raise ValueError(f"need at least two classes with at least one case each and one name per class; got "
                         f"counts {class_counts} and names {class_names}.")
    if min(shape) < 32:
        raise ValueError(f"shape {shape} is too small for a striatum; use at least 32 x 32 pixels.")
    folder = Path(folder)
    if folder.exists():
        return folder
    staging = folder.with_name(f".{folder.name}.{os.getpid()}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    written, rows = [], []
    for label, (name, count) in enumerate(zip(class_names, class_counts)):
        (staging / name).mkdir(parents=True)
        low, high = severity_band(label, len(class_counts))
        for index in range(count):
            case_seed = [seed, label, index]
            severity = float(np.random.default_rng([*case_seed, 7]).uniform(low, high))
            stem = staging / name / f"{name}_{index:04d}"
            if volume_every and index % volume_every == volume_every - 1:
                kind = VOLUME_FORMATS[(index // volume_every) % len(VOLUME_FORMATS)]
                volume, case = spect_phantom_volume(severity, case_seed, shape, volume_slices)
                paths = _write_volume(volume, stem, kind, seed=seed * 100_000 + label * 1000 + index)
                written.extend(paths)
                case_path = paths[0].parent if kind == "dicom_series" else paths[0]
            else:
                kind = "png"
                case = spect_phantom(severity, case_seed, shape)
                case_path = stem.with_name(stem.name + ".png")
                Image.fromarray(np.round(case.image).astype(np.uint8)).save(case_path)
                written.append(case_path)
            rows.append({"path": str(case_path.relative_to(staging)), "label": name, "format": kind,
                         **{key: (round(value, 4) if isinstance(value, float) else value)
                            for key, value in case.params.items()}})
    with open(staging / "cases.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    counts_text = ", ".join(f"{count} {name}" for name, count in zip(class_names, class_counts))
    write_sample_manifest(
        staging,
        title=f"Synthetic DaTscan-like SPECT phantoms ({counts_text}; sample data, not patient data)",
        stands_in_for="spect_staging",
        description=("Computer-made axial 'DaTscan' slices: two striatal commas (caudate + putamen) whose putamen "
                     "uptake falls with the disease stage (posterior first, asymmetric), blurred to SPECT "
                     "resolution, with Poisson noise at varying count levels and small shifts and rotations "
                     "of the head; imbalanced class counts; a few cases as NIfTI / DICOM volumes. Parameters per "
                     "case in cases.csv, documented in common/datasets/synthetic_spect.py. For demos and tests "
                     "only: numbers measured on it are not results on patients."),
        names=[str(path.relative_to(staging)) for path in written] + ["cases.csv"],
    )
    try:
        os.rename(staging, folder)
    except OSError:  # another process finished the same set first: keep its copy
        shutil.rmtree(staging, ignore_errors=True)
        if not folder.exists():
            raise
    return folder
