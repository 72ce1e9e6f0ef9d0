"""Synthetic 3D brain-MRI tumour volumes, a stand-in for the course's (non-public) MRI tumour set.

Every case is built from one real scan: ``anatomical.nii``, a T1-weighted MRI of the central brain (lateral
ventricles, basal ganglia, corpus callosum; 33 x 41 x 25 voxels of 2 mm) that ships with nibabel as test data
(``nibabel/tests/data``, from the nipy project's example data). Each case is that anatomy randomly moved
(shifts up to 4 mm, rotations up to 6 degrees, +-4 % scaling), resampled to a random number of axial slices
(so loaders and models must cope with varying depth), with a random intensity scale, a smooth bias field and
noise. ``tumour`` cases also hold one synthetic lesion: a soft-edged ellipsoid 5 to 10 mm in radius inside the
brain tissue, either uniformly brighter than white matter (an enhancing mass) or a bright rim around a dark core
(a ring-enhancing mass with necrosis).

``write_mri_volume_samples`` writes ``mri_tumour/<class>/<case>.nii.gz`` for the classes ``normal`` and
``tumour``; every fourth case is written instead as a DICOM series folder ``<case>/`` whose files are named in
shuffled order, so both loader paths of ``common.datasets.volumes`` are exercised. ``cases.csv`` (columns
``path,label`` and the lesion's centre and radii) doubles as a CSV manifest for ``load_volume_dataset``.

The images are synthetic: for demos and tests only. Numbers measured on them say nothing about real tumours.
``write_dicom_series`` writes any RAS+ array as a DICOM series, for tests of the DICOM loader.
"""

import csv
import hashlib
from pathlib import Path

import numpy as np

from common.datasets.files import SAMPLES_DIR, DataError, write_sample_manifest

MRI_TUMOUR_CLASSES = ("normal", "tumour")
MRI_TUMOUR_FOLDER = "mri_tumour"
# The anatomy is scaled so that its 99th percentile is this value, a typical range for T1 images stored
# as 16-bit integers.
_INTENSITY_SCALE = 1000.0


def anatomy_path():
    """The path of nibabel's ``anatomical.nii`` (a real T1 brain MRI), checked to exist.

    Raises:
        DataError: nibabel was installed without its test data.
    """
    import nibabel

    path = Path(nibabel.__file__).parent / "tests" / "data" / "anatomical.nii"
    if not path.is_file():
        raise DataError(f"{path} is missing: this nibabel installation has no test data, which the synthetic MRI "
                        "volumes are built from. Reinstall nibabel from its wheel (pip install --force-reinstall "
                        "nibabel), which includes nibabel/tests/data.")
    return path


def load_anatomy():
    """The anatomy as float32 (33, 41, 25) RAS+, 2 mm voxels, scaled so its 99th percentile is 1000."""
    from common.datasets.volumes import load_nifti

    volume = load_nifti(anatomy_path())
    array = np.clip(volume.array, 0.0, None)
    return (array * (_INTENSITY_SCALE / np.percentile(array, 99))).astype(np.float32), volume.spacing


def tissue_mask(anatomy):
    """Brain tissue (not CSF, not the field-of-view border): where a lesion may be placed; bool like ``anatomy``."""
    from scipy.ndimage import binary_erosion, binary_opening

    mask = anatomy > 0.55 * np.percentile(anatomy, 99)
    mask = binary_opening(mask, iterations=1)
    border = np.zeros_like(mask)
    border[3:-3, 3:-3, 3:-3] = True  # keep lesions whole: away from the edges of the field of view
    return binary_erosion(mask, iterations=1) & border


def _lesion(rng, anatomy, spacing):
    """A lesion in anatomy space: (intensity map relative to white matter, soft mask in [0, 1], description)."""
    from scipy.ndimage import gaussian_filter

    candidates = np.argwhere(tissue_mask(anatomy))
    centre = candidates[rng.integers(len(candidates))].astype(np.float64)
    radii_mm = rng.uniform(5.0, 10.0, size=3)
    kind = str(rng.choice(["bright", "ring"]))
    grid = np.indices(anatomy.shape).astype(np.float64)
    distance = np.sqrt(sum(((grid[axis] - centre[axis]) * spacing[axis] / radii_mm[axis]) ** 2 for axis in range(3)))
    inside = (distance <= 1.0).astype(np.float64)
    brightness = rng.uniform(1.4, 1.8)  # relative to white matter, the brightest tissue of a T1 image
    if kind == "bright":
        factor = np.full(anatomy.shape, brightness)
    else:  # a necrotic core (darker than grey matter) inside an enhancing rim
        factor = np.where(distance <= 0.55, rng.uniform(0.25, 0.45), brightness)
    # A smoothed edge, as partial volume gives real lesions, so a model cannot key on a hard boundary.
    soft = np.clip(gaussian_filter(inside, 0.6), 0.0, 1.0)
    description = {"kind": kind, "centre_mm": (centre * np.asarray(spacing)).round(2).tolist(),
                   "radii_mm": radii_mm.round(2).tolist()}
    return factor, soft, description


def _pose_matrix(rng, shape_in, shape_out):
    """(matrix, offset) mapping output voxel indices to anatomy voxel indices: a small random rigid motion.

    Both grids cover the same field of view (cell-centred), so the output has other voxel sizes than the input.
    """
    angles = np.deg2rad(rng.uniform([-3.0, -3.0, -6.0], [3.0, 3.0, 6.0]))
    rotation = np.eye(3)
    for axis, angle in enumerate(angles):
        cosine, sine = np.cos(angle), np.sin(angle)
        i, j = [a for a in range(3) if a != axis]
        turn = np.eye(3)
        turn[i, i], turn[i, j], turn[j, i], turn[j, j] = cosine, -sine, sine, cosine
        rotation = rotation @ turn
    scale = rng.uniform(0.96, 1.04)
    shift = rng.uniform(-2.0, 2.0, size=3)  # anatomy voxels (2 mm)
    zoom = np.asarray(shape_in, dtype=np.float64) / np.asarray(shape_out, dtype=np.float64)
    matrix = rotation * scale @ np.diag(zoom)
    centre_in = (np.asarray(shape_in) - 1) / 2.0
    centre_out = (np.asarray(shape_out) - 1) / 2.0
    # Cell-centred grids put the centre of output voxel o at (o + 0.5) * zoom - 0.5 input voxels, so the two
    # grid centres coincide and the motion turns about the centre of the field of view.
    offset = centre_in + shift - matrix @ centre_out
    return matrix, offset


def make_mri_case(anatomy, spacing, seed, tumour, shape=(32, 40, 24), depth=None):
    """One synthetic case: the anatomy moved, resampled, re-scaled and noised, with a lesion if ``tumour``.

    The random pose, intensity and noise depend only on ``seed``, not on ``tumour``: the same seed with and
    without a tumour gives volumes that differ only in and around the lesion.

    Args:
        anatomy, spacing: from ``load_anatomy()``.
        seed: an int or a sequence of ints (e.g. ``(base_seed, class_index, case_index)``).
        tumour: whether to add a lesion.
        shape: the nominal output shape (X, Y, Z); Z varies by +-25 % from case to case unless ``depth`` is given.
        depth: the number of slices, overriding the random depth.

    Returns:
        (array, spacing, lesion_mask, lesion): float32 (X, Y, Z) of non-negative integer values (about 0 to
        2000), the voxel size in mm, a bool lesion mask of the same shape (all False for normal cases) and a
        dict describing the lesion (centre and radii in mm in the output volume's voxel frame, kind) or None.
    """
    from scipy.ndimage import affine_transform, gaussian_filter

    pose_seed, intensity_seed, noise_seed, lesion_seed = np.random.SeedSequence(seed).spawn(4)
    pose_rng = np.random.default_rng(pose_seed)
    random_depth = int(pose_rng.integers(round(0.75 * shape[2]), round(1.25 * shape[2]) + 1))
    depth = random_depth if depth is None else depth  # drawn either way, so the pose does not depend on it
    shape_out = (int(shape[0]), int(shape[1]), int(depth))
    matrix, offset = _pose_matrix(pose_rng, anatomy.shape, shape_out)
    spacing_out = tuple(float(s * n_in / n_out) for s, n_in, n_out in zip(spacing, anatomy.shape, shape_out))

    source = anatomy
    lesion_soft = np.zeros_like(anatomy)
    lesion = None
    if tumour:
        factor, lesion_soft, lesion = _lesion(np.random.default_rng(lesion_seed), anatomy, spacing)
        white_matter = float(np.percentile(anatomy, 99))
        source = anatomy * (1.0 - lesion_soft) + white_matter * factor * lesion_soft
    moved = affine_transform(source, matrix, offset, output_shape=shape_out, order=1, mode="nearest")
    mask = affine_transform(lesion_soft, matrix, offset, output_shape=shape_out, order=1, mode="constant") > 0.5
    if lesion is not None:
        centre_voxel = np.linalg.solve(matrix, np.asarray(lesion["centre_mm"]) / np.asarray(spacing) - offset)
        lesion["centre_mm"] = (centre_voxel * np.asarray(spacing_out)).round(2).tolist()

    intensity_rng = np.random.default_rng(intensity_seed)
    gain = intensity_rng.uniform(0.8, 1.2)
    # A smooth multiplicative bias field (+-10 %), as coil sensitivity gives every real MRI.
    gradient = intensity_rng.uniform(-0.1, 0.1, size=3)
    coordinates = [np.linspace(-0.5, 0.5, size) for size in shape_out]
    bias = 1.0 + sum(g * c.reshape([-1 if axis == a else 1 for a in range(3)])
                     for axis, (g, c) in enumerate(zip(gradient, coordinates)))
    noise_rng = np.random.default_rng(noise_seed)
    # Slightly smoothed noise, as k-space filtering makes it in real images; 1.5 % to 3 % of the tissue range.
    noise = gaussian_filter(noise_rng.normal(size=shape_out), 0.5)
    noise *= intensity_rng.uniform(0.015, 0.03) * _INTENSITY_SCALE / noise.std()
    array = np.clip(moved * gain * bias + noise, 0.0, None)
    return np.round(array).astype(np.float32), spacing_out, mask, lesion


def write_dicom_series(array, folder, spacing, series_uid=None, shuffle=False, seed=0, rescale=None,
                       origin=(0.0, 0.0, 0.0), description="synthetic series", file_suffix=""):
    """Write a RAS+ volume as a DICOM MR series of axial slices, one file per slice.

    The slices are stored as scanners store axial images: ImageOrientationPatient [1, 0, 0, 0, 1, 0] (rows
    run to the patient's left, columns to the back, in DICOM's LPS coordinates), so reading them back must
    flip X and Y to reach RAS+ again.

    Args:
        array: float array of shape (X, Y, Z) in RAS+ orientation.
        folder: the folder to write (created); files are named ``IM0001``... plus ``file_suffix``.
        spacing: voxel size (X, Y, Z) in mm.
        series_uid: the SeriesInstanceUID; default: derived from ``seed``, the folder name and the data, so a
            rewrite gives identical files.
        shuffle: name the files in a random order (InstanceNumber and positions stay true), as exports often do.
        seed: the seed of the shuffle and of the default UIDs.
        rescale: (slope, intercept) with value = stored * slope + intercept, stored as uint16; default: (1, 0)
            for integer values in 0..65535, else a slope that spreads the value range over 0..65535.
        origin: RAS position in mm of voxel (0, 0, 0).
        description: the SeriesDescription.
        file_suffix: e.g. ".dcm"; default: none, as many scanners write.

    Returns:
        The paths written, in slice order (inferior to superior).

    Raises:
        ValueError: ``array`` is not 3D, or values do not fit uint16 under ``rescale``.
    """
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 3:
        raise ValueError(f"write_dicom_series needs a 3D array (X, Y, Z), got shape {array.shape}.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if rescale is None:
        low, high = float(array.min()), float(array.max())
        if np.all(array == np.round(array)) and low >= 0 and high <= 65535:
            rescale = (1.0, 0.0)
        else:
            # DICOM stores decimal strings of at most 16 characters: round the slope first, then quantise with
            # exactly the stored value so reading back loses no more than half a step.
            rescale = (float(f"{max(high - low, 1e-6) / 65535:.8g}"), float(f"{low:.8g}"))
    slope, intercept = (float(f"{value:.8g}") for value in rescale)
    stored = np.round((array - intercept) / slope)
    if stored.min() < 0 or stored.max() > 65535:
        raise ValueError(f"values {array.min():.4g}..{array.max():.4g} do not fit uint16 with rescale "
                         f"(slope {slope}, intercept {intercept}); pass another rescale or rescale=None.")
    stored = stored.astype(np.uint16)
    digest = hashlib.sha1(np.ascontiguousarray(stored).tobytes()).hexdigest()
    entropy = [str(seed), folder.name, digest]
    series_uid = series_uid or generate_uid(entropy_srcs=[*entropy, "series"])
    study_uid = generate_uid(entropy_srcs=[*entropy, "study"])
    frame_uid = generate_uid(entropy_srcs=[*entropy, "frame"])
    size_x, size_y, size_z = array.shape
    sx, sy, sz = (float(s) for s in spacing)
    order = np.random.default_rng(seed).permutation(size_z) if shuffle else np.arange(size_z)
    paths = []
    for k in range(size_z):
        path = folder / f"IM{order[k] + 1:04d}{file_suffix}"
        sop_uid = generate_uid(entropy_srcs=[*entropy, "instance", str(k)])
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        dataset = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
        dataset.SOPClassUID = MRImageStorage
        dataset.SOPInstanceUID = sop_uid
        dataset.StudyInstanceUID = study_uid
        dataset.SeriesInstanceUID = series_uid
        dataset.FrameOfReferenceUID = frame_uid
        dataset.Modality = "MR"
        dataset.PatientName = "Synthetic^Volume"
        dataset.PatientID = folder.name
        dataset.SeriesDescription = description
        dataset.SeriesNumber = 1
        dataset.InstanceNumber = k + 1
        # Pixel (row r, column c) is RAS voxel (X-1-c, Y-1-r, k): LPS +x is RAS -x and LPS +y is RAS -y.
        corner = np.array([origin[0] + (size_x - 1) * sx, origin[1] + (size_y - 1) * sy, origin[2] + k * sz])
        dataset.ImagePositionPatient = [f"{value:.8g}" for value in (-corner[0], -corner[1], corner[2])]
        dataset.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        dataset.PixelSpacing = [f"{sy:.8g}", f"{sx:.8g}"]  # (between rows, between columns)
        dataset.SliceThickness = f"{sz:.8g}"
        dataset.SpacingBetweenSlices = f"{sz:.8g}"
        dataset.SliceLocation = f"{corner[2]:.8g}"
        dataset.RescaleSlope = f"{slope:.8g}"
        dataset.RescaleIntercept = f"{intercept:.8g}"
        dataset.SamplesPerPixel = 1
        dataset.PhotometricInterpretation = "MONOCHROME2"
        dataset.Rows, dataset.Columns = size_y, size_x
        dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, 16, 15
        dataset.PixelRepresentation = 0
        dataset.PixelData = np.ascontiguousarray(stored[::-1, ::-1, k].T).tobytes()
        pydicom.dcmwrite(path, dataset, enforce_file_format=True)
        paths.append(path)
    return paths


def _write_nifti(array, spacing, path):
    import nibabel as nib

    affine = np.diag([*spacing, 1.0])
    image = nib.Nifti1Image(array.astype(np.int16), affine)
    image.header.set_xyzt_units("mm")
    nib.save(image, path)


def write_mri_volume_samples(data_dir=SAMPLES_DIR, cases_per_class=12, seed=0, shape=(32, 40, 24), dicom_every=4):
    """Write the synthetic MRI tumour set (see the module docstring) to ``data_dir/mri_tumour/``.

    Args:
        data_dir: the sample-data root.
        cases_per_class: cases written for each of ``normal`` and ``tumour``.
        seed: the base seed; the same seed writes the same volumes.
        shape: the nominal volume shape (X, Y, Z); each case's Z varies by +-25 %.
        dicom_every: every ``dicom_every``-th case of a class is a DICOM series folder instead of NIfTI.

    Returns:
        The folder written.
    """
    if cases_per_class < 1 or dicom_every < 1:
        raise ValueError(f"cases_per_class ({cases_per_class}) and dicom_every ({dicom_every}) must be at least 1.")
    anatomy, spacing = load_anatomy()
    folder = Path(data_dir) / MRI_TUMOUR_FOLDER
    written, rows = [], []
    for label, class_name in enumerate(MRI_TUMOUR_CLASSES):
        (folder / class_name).mkdir(parents=True, exist_ok=True)
        for index in range(cases_per_class):
            case_seed = (seed, label, index)
            array, case_spacing, _, lesion = make_mri_case(anatomy, spacing, case_seed, class_name == "tumour", shape)
            name = f"{class_name}_{index:03d}"
            if index % dicom_every == dicom_every - 1:
                paths = write_dicom_series(array, folder / class_name / name, case_spacing, shuffle=True,
                                           seed=seed * 1000 + label * 100 + index, description=f"synthetic {name}")
                written.extend(paths)
                case_path = folder / class_name / name
            else:
                case_path = folder / class_name / f"{name}.nii.gz"
                _write_nifti(array, case_spacing, case_path)
                written.append(case_path)
            lesion = lesion or {"kind": "", "centre_mm": ["", "", ""], "radii_mm": ["", "", ""]}
            rows.append([str(case_path.relative_to(folder)), class_name, lesion["kind"], *lesion["centre_mm"],
                         *lesion["radii_mm"]])
    with open(folder / "cases.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "lesion_kind", "lesion_x_mm", "lesion_y_mm", "lesion_z_mm",
                         "radius_x_mm", "radius_y_mm", "radius_z_mm"])
        writer.writerows(rows)
    write_sample_manifest(
        folder,
        title="Synthetic 3D brain-MRI tumour volumes (sample data, not patient data)",
        stands_in_for="mri_tumour",
        description=("Randomly moved, resampled and noised copies of one real T1 brain MRI (nibabel's test file "
                     "anatomical.nii), half with a synthetic ellipsoid lesion (bright, or a bright ring around a "
                     "dark core). NIfTI files and shuffled DICOM series. For demos and tests only: numbers "
                     "measured on it are not results on real tumours."),
        names=[str(path.relative_to(folder)) for path in written] + ["cases.csv"],
    )
    return folder
