"""Medical volumes from NIfTI files and DICOM series, all in one orientation: RAS+.

Every loader returns a ``Volume`` whose ``array`` has shape (X, Y, Z) in the canonical RAS+ orientation that
nibabel's ``as_closest_canonical`` gives:

* axis 0 (X) increases towards the patient's **R**\\ ight (index 0 is the patient's left side),
* axis 1 (Y) increases towards the patient's **A**\\ nterior (the face),
* axis 2 (Z) increases towards the patient's **S**\\ uperior (the top of the head), so ``array[:, :, k]``
  is axial slice k, counted from the feet up.

The same anatomy therefore gives the same array whether it was stored as NIfTI (RAS world coordinates) or
as a DICOM series (LPS patient coordinates, slices in any file order), which is what lets a model trained on
one format run on the other. "Closest" canonical means the voxel axes are only permuted and flipped, never
interpolated: an oblique acquisition keeps its voxels and is labelled by its nearest RAS+ axes.

Voxel values are float32 in the scanner's units (CT: Hounsfield units after RescaleSlope/RescaleIntercept;
MRI: arbitrary units). ``spacing`` is the voxel size in millimetres along (X, Y, Z).

Loaders:

* ``load_nifti(path)``: ``.nii`` / ``.nii.gz``.
* ``load_dicom_series(folder)``: one series of slice files (searched recursively, any file names, any order),
  or one multi-frame DICOM file.
* ``load_volume(path)``: either of the above, or a ``.npy`` array, chosen from the path.
* ``load_volume_dataset(root_or_csv)``: a classification set, ``root/<class>/<case>.nii.gz`` or
  ``root/<class>/<case>/`` (DICOM folders), or a CSV manifest with the columns ``path,label``.

Problems that would silently corrupt a volume (two series in one folder, a missing or duplicated slice,
slices of different sizes or orientations, a 4D file) raise ``DataError`` naming the files and the fix;
harmless ones (a README or DICOMDIR next to the slices, slightly uneven slice steps) give a
``VolumeWarning``. Run ``python -m common.datasets.volumes PATH`` to load a volume and print its geometry.
"""

import dataclasses
import warnings
from pathlib import Path

import numpy as np

from common.datasets.class_folders import list_labelled_cases
from common.datasets.files import DataError, list_names

NIFTI_SUFFIXES = (".nii", ".nii.gz")
VOLUME_FILE_SUFFIXES = (".nii", ".nii.gz", ".npy", ".dcm")

# Slice positions closer than this (mm) are the same position: DICOM stores them as decimal strings of up
# to 16 characters, so equal positions can differ by rounding, never by anything near a micrometre.
_SAME_POSITION_MM = 1e-3
# A step this much larger than the median step means slices are missing (1.5 rather than 2 so that one
# missing slice in a series with slightly uneven steps is still caught).
_GAP_FACTOR = 1.5
# Steps differing from the median by more than this fraction give a warning (scanners round positions).
_STEP_TOLERANCE = 0.01
_DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


class VolumeWarning(UserWarning):
    """A volume was loaded, but something about its files deserves a look (the message names them)."""


@dataclasses.dataclass(frozen=True, eq=False)
class Volume:
    """One 3D scan in canonical RAS+ orientation (see the module docstring).

    array: float32 array of shape (X, Y, Z), scanner units.
    spacing: voxel size in mm along (X, Y, Z), a tuple of three floats.
    source: the file or folder it was read from.
    affine: float64 (4, 4) matrix from voxel indices (i, j, k, 1) to RAS+ world coordinates in mm
        (diagonal with positive entries for an axis-aligned scan), or None when the file had no geometry.
    """

    array: np.ndarray
    spacing: tuple
    source: str
    affine: np.ndarray | None = None

    @property
    def shape(self):
        return self.array.shape


def _canonical(data, affine):
    """``data`` (X, Y, Z) with voxel-to-RAS ``affine`` reordered to RAS+; returns (array, affine, spacing)."""
    from nibabel.affines import voxel_sizes
    from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation

    orientation = io_orientation(affine)
    canonical = apply_orientation(data, orientation)
    canonical_affine = affine @ inv_ornt_aff(orientation, data.shape)
    spacing = tuple(float(size) for size in voxel_sizes(canonical_affine))
    return np.ascontiguousarray(canonical, dtype=np.float32), canonical_affine, spacing


def _nifti_name(path):
    return Path(path).name.lower().endswith(NIFTI_SUFFIXES)


# ------------------------------------------------------------------------------------------------- NIfTI


def load_nifti(path):
    """Read a ``.nii`` or ``.nii.gz`` file as a canonical RAS+ ``Volume``.

    Args:
        path: the NIfTI file. Its scaling (``scl_slope``/``scl_inter``) is applied; a 4D file whose 4th
            dimension is 1 is read as 3D.

    Returns:
        A ``Volume`` (float32 (X, Y, Z), spacing in mm from the affine).

    Raises:
        DataError: the file is missing or unreadable, or holds several volumes (4D) or a single 2D image.
    """
    import nibabel as nib

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file.")
    try:
        image = nib.load(path)
        shape = image.shape
    except Exception as error:  # nibabel, gzip and numpy raise many types for a damaged file
        raise DataError(f"{path} cannot be read as NIfTI ({type(error).__name__}: {error}). Check that the "
                        "download is complete (compare its checksum) and that the file opens in a viewer.") from None
    if len(shape) > 3 and all(size == 1 for size in shape[3:]):
        image = image.slicer[(slice(None),) * 3 + (0,) * (len(shape) - 3)]
        shape = image.shape
    if len(shape) > 3:
        raise DataError(
            f"{path} holds {int(np.prod(shape[3:]))} volumes (shape {shape}): a 4D series such as fMRI, DWI or "
            "several echoes. Pick one volume and save it as its own file, e.g. "
            "nibabel.save(nibabel.load(path).slicer[..., 0], 'volume0.nii.gz') or `fslroi in.nii.gz out.nii.gz 0 1`."
        )
    if len(shape) < 3:
        raise DataError(f"{path} holds a {len(shape)}D image of shape {shape}, not a volume.")
    try:
        canonical = nib.as_closest_canonical(image)
        data = canonical.get_fdata(dtype=np.float32)
    except Exception as error:
        raise DataError(f"{path}: the voxel data cannot be read ({type(error).__name__}: {error}); the file is "
                        "probably truncated. Download it again.") from None
    from nibabel.affines import voxel_sizes

    spacing = tuple(float(size) for size in voxel_sizes(canonical.affine))
    return Volume(np.ascontiguousarray(data, dtype=np.float32), spacing, str(path), canonical.affine.copy())


# ------------------------------------------------------------------------------------------------- DICOM


@dataclasses.dataclass
class _Slice:
    """One 2D image of a series: a single-frame file, or one frame of a multi-frame file."""

    name: str
    pixels: np.ndarray  # float32 (rows, columns), rescaled
    position: np.ndarray | None  # ImagePositionPatient, LPS mm
    orientation: np.ndarray | None  # ImageOrientationPatient (row cosines, column cosines)
    pixel_spacing: tuple | None  # (between rows, between columns) in mm
    instance: int | None
    thickness: float | None


def _frame_value(dataset, frame, sequence, attribute):
    """An attribute of frame ``frame``: its per-frame functional group, the shared group, then the top level."""
    for groups in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        items = dataset.get(groups)
        if not items:
            continue
        item = items[frame] if groups.startswith("PerFrame") and frame < len(items) else items[0]
        inner = item.get(sequence)
        if inner and attribute in inner[0]:
            return inner[0].get(attribute)
    return dataset.get(attribute)


def _floats(value):
    return None if value is None or len(value) == 0 else np.array([float(v) for v in value])


def _number(value, default=None):
    try:
        return default if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return default


def _slices_of(path, dataset):
    """The ``_Slice`` records of one DICOM image file (one per frame)."""
    if int(dataset.get("SamplesPerPixel", 1) or 1) != 1:
        raise DataError(f"{path} is a colour image ({dataset.get('PhotometricInterpretation')}), not a slice of a "
                        "grey-level volume. Remove it from the series folder.")
    try:
        pixels = dataset.pixel_array
    except Exception as error:
        raise DataError(f"{path}: its pixel data cannot be decoded ({type(error).__name__}: {error}). If it is "
                        "compressed (JPEG, JPEG 2000), decompress the series first, e.g. `gdcmconv --raw` or "
                        "`dcmdjpeg`.") from None
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames == 1 or pixels.ndim == 2:
        pixels = pixels.reshape(1, *pixels.shape[-2:])
    offsets = dataset.get("GridFrameOffsetVector")  # RT dose grids give frame positions as offsets
    records = []
    for frame in range(pixels.shape[0]):
        slope = _number(_frame_value(dataset, frame, "PixelValueTransformationSequence", "RescaleSlope"), 1.0)
        intercept = _number(_frame_value(dataset, frame, "PixelValueTransformationSequence", "RescaleIntercept"), 0.0)
        slope *= _number(dataset.get("DoseGridScaling"), 1.0)
        position = _floats(_frame_value(dataset, frame, "PlanePositionSequence", "ImagePositionPatient"))
        orientation = _floats(_frame_value(dataset, frame, "PlaneOrientationSequence", "ImageOrientationPatient"))
        if offsets is not None and len(offsets) == pixels.shape[0] and position is not None and orientation is not None:
            position = position + float(offsets[frame]) * np.cross(orientation[:3], orientation[3:])
        spacing = _floats(_frame_value(dataset, frame, "PixelMeasuresSequence", "PixelSpacing"))
        thickness = _number(_frame_value(dataset, frame, "PixelMeasuresSequence", "SliceThickness"))
        instance = _number(dataset.get("InstanceNumber"))
        records.append(_Slice(
            name=str(path) if pixels.shape[0] == 1 else f"{path} [frame {frame + 1}]",
            pixels=pixels[frame].astype(np.float32) * np.float32(slope) + np.float32(intercept),
            position=position,
            orientation=orientation,
            pixel_spacing=None if spacing is None else (float(spacing[0]), float(spacing[1])),
            instance=frame if pixels.shape[0] > 1 else (None if instance is None else int(instance)),
            thickness=thickness,
        ))
    return records


def _read_folder(folder):
    """The DICOM image datasets under ``folder`` (recursively) as (path, dataset), warning about other files."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    folder = Path(folder)
    paths = [folder] if folder.is_file() else sorted(
        path for path in folder.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts))
    images, skipped = [], []
    for path in paths:
        try:
            dataset = pydicom.dcmread(path, force=False)
        except InvalidDicomError:
            skipped.append(f"{path} (not a DICOM file)")
            continue
        except Exception as error:  # a truncated or damaged DICOM file
            skipped.append(f"{path} (unreadable: {type(error).__name__}: {error})")
            continue
        sop_class = str(getattr(getattr(dataset, "file_meta", None), "MediaStorageSOPClassUID", ""))
        if sop_class == _DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in dataset:
            skipped.append(f"{path} (a DICOMDIR index)")
        elif "PixelData" not in dataset and "FloatPixelData" not in dataset:
            skipped.append(f"{path} (no pixel data: {dataset.get('Modality', 'not an image')})")
        else:
            images.append((path, dataset))
    if skipped:
        warnings.warn(f"{folder}: skipped {len(skipped)} file(s) that are not DICOM images: "
                      f"{list_names(skipped)}.", VolumeWarning, stacklevel=3)
    if not images:
        raise DataError(f"{folder} holds no DICOM image files ({len(paths)} file(s) looked at). Point to the folder "
                        "that holds the slice files of one series.")
    return images


def _check_series(folder, images):
    """Raise ``DataError`` listing the series when ``images`` hold more than one SeriesInstanceUID."""
    series = {}
    for path, dataset in images:
        series.setdefault(str(dataset.get("SeriesInstanceUID", "(no SeriesInstanceUID)")), []).append(
            (path, dataset))
    if len(series) > 1:
        lines = [f"  {uid}: {str(members[0][1].get('SeriesDescription', '')) or '(no description)'}, "
                 f"{len(members)} file(s), e.g. {members[0][0]}" for uid, members in series.items()]
        raise DataError(f"{folder} holds {len(series)} DICOM series; a volume is one series. Put each series in "
                        "its own folder (sort the files by SeriesInstanceUID), then load the one you need:\n"
                        + "\n".join(lines))


def _require_same(folder, slices, key, describe, what):
    """Raise ``DataError`` when ``key(slice)`` differs between slices, naming the files of each value."""
    groups = {}
    for item in slices:
        groups.setdefault(key(item), []).append(item.name)
    if len(groups) > 1:
        lines = [f"  {describe(value)}: {list_names(names, 4)}" for value, names in groups.items()]
        raise DataError(f"{folder}: the slices do not share one {what}, so they cannot be stacked into a volume. "
                        "Remove the files that do not belong to the series (a localizer, a reformat, a "
                        "different acquisition):\n" + "\n".join(lines))


def _rounded(values, decimals):
    return None if values is None else tuple(round(float(value), decimals) + 0.0 for value in values)


def _slice_steps(folder, slices, normal):
    """Sort ``slices`` along ``normal`` in place and return the slice step in mm, checking for gaps."""
    if any(item.position is None for item in slices):
        if any(item.instance is None for item in slices):
            slices.sort(key=lambda item: item.name)
            how = "file name (no ImagePositionPatient nor InstanceNumber)"
        else:
            slices.sort(key=lambda item: item.instance)
            how = "InstanceNumber (no ImagePositionPatient)"
            instances = [item.instance for item in slices]
            repeated = [item.name for item, nxt in zip(slices, slices[1:]) if item.instance == nxt.instance]
            if len(set(instances)) < len(instances):
                raise DataError(f"{folder}: several slices share one InstanceNumber and have no position: "
                                f"{list_names(repeated)}. Remove the duplicated files.")
        step = slices[0].thickness or 1.0
        warnings.warn(f"{folder}: slices sorted by {how}; the slice spacing {step} mm comes from SliceThickness "
                      "and cannot be checked for missing slices.", VolumeWarning, stacklevel=3)
        return step
    heights = np.array([float(item.position @ normal) for item in slices])
    order = np.argsort(heights, kind="stable")
    slices[:] = [slices[i] for i in order]
    heights = heights[order]
    if len(slices) == 1:
        return slices[0].thickness or 1.0
    steps = np.diff(heights)
    same = np.flatnonzero(steps < _SAME_POSITION_MM)
    if same.size:
        pairs = [f"{slices[i].name} and {slices[i + 1].name} (at {heights[i]:.2f} mm)" for i in same]
        raise DataError(f"{folder}: {same.size} pair(s) of slices share one position: {list_names(pairs, 4)}. "
                        "Either files were copied twice (delete the copies) or the series holds several images "
                        "per position (echoes, time points, diffusion directions): split it into one folder per "
                        "echo or time point.")
    median = float(np.median(steps))
    gaps = np.flatnonzero(steps > _GAP_FACTOR * median)
    if gaps.size:
        lines = [f"  between {slices[i].name} and {slices[i + 1].name}: {steps[i]:.3g} mm, about "
                 f"{max(1, int(round(steps[i] / median)) - 1)} slice(s) missing" for i in gaps]
        raise DataError(f"{folder}: slices are missing (the usual step is {median:.3g} mm). Find the missing "
                        "files (an incomplete copy or export) or load the parts as separate volumes:\n"
                        + "\n".join(lines))
    uneven = np.flatnonzero(np.abs(steps - median) > _STEP_TOLERANCE * median)
    if uneven.size:
        pairs = [f"{slices[i].name} -> {slices[i + 1].name}: {steps[i]:.4g} mm" for i in uneven]
        warnings.warn(f"{folder}: uneven slice steps (median {median:.4g} mm): {list_names(pairs, 4)}. The median "
                      "is used as the slice spacing; the volume is slightly distorted along the slice axis.",
                      VolumeWarning, stacklevel=3)
    return median


def load_dicom_series(folder):
    """Read one DICOM series (a folder of slice files, or one multi-frame file) as a canonical RAS+ ``Volume``.

    Files are found recursively under ``folder`` whatever their names (``.dcm`` or none); files that are not
    DICOM images (a README, a DICOMDIR, a structured report) are skipped with a ``VolumeWarning`` naming them.
    Slices are ordered by their position along the slice normal (the cross product of the row and column
    directions of ImageOrientationPatient), so the order of the files does not matter; InstanceNumber is
    the fallback when positions are missing. RescaleSlope and RescaleIntercept are applied to every slice.

    Args:
        folder: the folder holding one series, or a single (multi-frame) DICOM file.

    Returns:
        A ``Volume``: float32 (X, Y, Z) in RAS+ (see the module docstring); spacing from PixelSpacing and the
        median step between slice positions. A single slice gives Z=1 along its normal (spacing from
        SliceThickness) and a ``VolumeWarning``.

    Raises:
        DataError: no DICOM image in ``folder``; several series; slices with different sizes, orientations or
            pixel spacings; two slices at one position; missing slices (a step over 1.5 times the median).
    """
    folder = Path(folder)
    if not folder.exists():
        raise DataError(f"{folder} does not exist. Give the folder that holds the DICOM files of one series.")
    images = _read_folder(folder)
    _check_series(folder, images)
    slices = [record for path, dataset in images for record in _slices_of(path, dataset)]
    _require_same(folder, slices, lambda item: item.pixels.shape,
                  lambda shape: f"Rows x Columns {shape[0]} x {shape[1]}", "image size (Rows, Columns)")
    _require_same(folder, slices, lambda item: _rounded(item.orientation, 3),
                  lambda value: f"ImageOrientationPatient {list(value) if value else None}", "orientation")
    _require_same(folder, slices, lambda item: _rounded(item.pixel_spacing, 4),
                  lambda value: f"PixelSpacing {list(value) if value else None}", "pixel spacing")
    orientation = slices[0].orientation
    if orientation is None:
        warnings.warn(f"{folder}: no ImageOrientationPatient; the slices are assumed to be axial (rows running to "
                      "the patient's left, columns to the back), so the orientation may be wrong.",
                      VolumeWarning, stacklevel=2)
        orientation = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    row_direction, column_direction = orientation[:3], orientation[3:]
    normal = np.cross(row_direction, column_direction)
    row_spacing, column_spacing = slices[0].pixel_spacing or (1.0, 1.0)
    if slices[0].pixel_spacing is None:
        warnings.warn(f"{folder}: no PixelSpacing; 1 mm is assumed.", VolumeWarning, stacklevel=2)
    step = _slice_steps(folder, slices, normal)
    if len(slices) == 1:
        warnings.warn(f"{folder} holds a single slice: the volume has one voxel along the slice normal, {step} mm "
                      "thick (SliceThickness). Resampling it to several slices only repeats it.",
                      VolumeWarning, stacklevel=2)
    # DICOM pixel (row r, column c) lies at position + c * column_spacing * row_direction
    # + r * row_spacing * column_direction, in LPS millimetres. Stacking the transposed images gives an
    # array indexed (c, r, slice), whose voxel-to-LPS affine is built here, then turned into RAS.
    affine = np.eye(4)
    affine[:3, 0] = row_direction * column_spacing
    affine[:3, 1] = column_direction * row_spacing
    affine[:3, 2] = normal * step
    affine[:3, 3] = slices[0].position if slices[0].position is not None else 0.0
    data = np.stack([item.pixels.T for item in slices], axis=-1)
    array, ras_affine, spacing = _canonical(data, _LPS_TO_RAS @ affine)
    return Volume(array, spacing, str(folder), ras_affine)


# ---------------------------------------------------------------------------------------------- dispatch


def _check_slices(volume, min_slices):
    """``volume``, or a ``DataError`` when an axis has fewer than ``min_slices`` voxels."""
    thin = [axis for axis, size in zip("XYZ", volume.shape) if size < min_slices]
    if thin:
        raise DataError(f"{volume.source} has shape {volume.shape}: a single slice along {', '.join(thin)}, not a "
                        f"volume. A volume needs at least {min_slices} slices along each axis: resampling it to the "
                        "model's depth interpolates between neighbouring slices, and one slice holds no 3D "
                        "information. Give the whole volume, or treat the slice as a 2D image.")
    return volume


def load_volume(path, min_slices=2):
    """Read a volume from ``path``, choosing the reader from it.

    A folder is a DICOM series (``load_dicom_series``), ``.nii``/``.nii.gz`` is NIfTI (``load_nifti``), ``.dcm``
    a single (multi-frame) DICOM file, and ``.npy`` a NumPy array of shape (X, Y, Z) that is taken to be RAS+
    already, with 1 mm voxels (NumPy files carry no geometry).

    Args:
        path: the file or DICOM folder.
        min_slices: the fewest voxels allowed along each axis; 1 accepts a single slice (a 2D image stored as a
            volume, as SPECT exports often are).

    Raises:
        DataError: the path is missing, of another format, unreadable, or thinner than ``min_slices``.
    """
    return _check_slices(_read_volume(Path(path)), min_slices)


def _read_volume(path):
    if path.is_dir():
        return load_dicom_series(path)
    if not path.exists():
        raise DataError(f"{path} does not exist.")
    if _nifti_name(path):
        return load_nifti(path)
    suffix = path.suffix.lower()
    if suffix == ".dcm":
        return load_dicom_series(path)
    if suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except Exception as error:
            raise DataError(f"{path} cannot be read as a NumPy array ({type(error).__name__}: {error}).") from None
        if array.ndim != 3 or not np.issubdtype(array.dtype, np.number):
            raise DataError(f"{path} holds a {array.ndim}D {array.dtype} array of shape {array.shape}; a volume is "
                            "a 3D numeric array (X, Y, Z).")
        return Volume(np.ascontiguousarray(array, dtype=np.float32), (1.0, 1.0, 1.0), str(path), None)
    raise DataError(f"{path}: unsupported volume format. Supported: a folder holding one DICOM series, "
                    f"{', '.join(VOLUME_FILE_SUFFIXES)}. Convert other formats (MHA, NRRD, MINC) to NIfTI, "
                    "e.g. with SimpleITK or nibabel.")


@dataclasses.dataclass
class VolumeDataset:
    """A volume classification set.

    volumes: list of N ``Volume`` (shapes and spacings may differ from case to case).
    labels: int64 array of shape (N,), indices into ``class_names``.
    class_names: the class names, in label order.
    paths: the file or folder of each volume.
    skipped: (path, reason) for every case that could not be read.
    """

    volumes: list
    labels: np.ndarray
    class_names: list
    paths: list
    skipped: list


def is_volume_case(path):
    """A case of a volume class folder: a NIfTI / NumPy / DICOM file, or a folder holding one DICOM series."""
    return path.is_dir() or bool(_nifti_name(path)) or path.suffix.lower() in VOLUME_FILE_SUFFIXES


def load_volume_dataset(root_or_csv, class_names=None):
    """Read every volume of a classification set.

    Args:
        root_or_csv: a folder laid out as ``root/<class>/<case>.nii.gz`` (or ``.nii``, ``.npy``, ``.dcm``) and/or
            ``root/<class>/<case>/`` (a DICOM series folder), or a CSV file with a header ``path,label`` (more
            columns are allowed), whose relative paths are resolved against the CSV's folder.
        class_names: the classes in label order; default: the class folders (or CSV labels), sorted.

    Returns:
        A ``VolumeDataset``. A case that cannot be read is reported with a ``VolumeWarning`` naming it and
        left out (listed in ``skipped``).

    Raises:
        DataError: the root or CSV is missing or malformed, it has fewer than two classes, a class has no case,
            listed files are missing, or a class is left with no readable case.
    """
    source = Path(root_or_csv)
    paths, labels, class_names = list_labelled_cases(
        source, is_volume_case, "volumes (NIfTI/NumPy files or DICOM series folders)", class_names)
    volumes, kept, skipped = [], [], []
    for index, path in enumerate(paths):
        try:
            volumes.append(load_volume(path))
            kept.append(index)
        except DataError as error:
            skipped.append((str(path), str(error)))
            warnings.warn(f"skipped the unreadable case {path}: {error}", VolumeWarning, stacklevel=2)
    kept_labels = labels[kept]
    for label, name in enumerate(class_names):
        if not np.any(kept_labels == label):
            raise DataError(f"No readable volume is left for class {name!r} in {source}; its "
                            f"{int(np.sum(labels == label))} case(s) were unreadable (see the warnings).")
    return VolumeDataset(volumes, kept_labels, class_names, [str(paths[i]) for i in kept], skipped)


def main(argv=None):
    """Print the shape, spacing and value range of a volume: ``python -m common.datasets.volumes PATH``."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("path", help="a NIfTI file, a DICOM series folder, a .dcm or .npy file")
    arguments = parser.parse_args(argv)
    try:
        volume = load_volume(arguments.path)
    except DataError as error:
        parser.exit(1, f"error: {error}\n")
    print(f"{volume.source}: shape {volume.shape} (X, Y, Z; RAS+), spacing {tuple(round(s, 4) for s in volume.spacing)}"
          f" mm, values {volume.array.min():.4g} .. {volume.array.max():.4g}")


if __name__ == "__main__":
    main()
