"""Volume loaders on files the packages ship (nibabel's brain MRI, pydicom's test series) and on synthetic series
written to temporary folders, and the synthetic MRI tumour set built from them."""

import csv
import json
import shutil
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from scipy.ndimage import distance_transform_edt

from common.datasets.files import DataError, md5sum
from common.datasets.synthetic_mri import (
    load_anatomy,
    make_mri_case,
    write_dicom_series,
    write_mri_volume_samples,
)
from common.datasets.volumes import (
    Volume,
    VolumeWarning,
    load_dicom_series,
    load_nifti,
    load_volume,
    load_volume_dataset,
)

PYDICOM_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
DICOMDIR_TESTS = PYDICOM_FILES / "dicomdirtests"
needs_dicomdir_tests = pytest.mark.skipif(
    not DICOMDIR_TESTS.is_dir(), reason=f"{DICOMDIR_TESTS} is not in this pydicom installation (offline test data)")


def _anatomical_path():
    return Path(nib.__file__).parent / "tests" / "data" / "anatomical.nii"


def _volume(shape=(6, 7, 5), seed=0, integer=True):
    """A volume with no symmetry, so that any flip or transposition changes it."""
    rng = np.random.default_rng(seed)
    x, y, z = np.indices(shape)
    array = 100 * x + 10 * y + z + rng.integers(0, 5, size=shape)
    return array.astype(np.float32) if integer else (array + rng.random(shape)).astype(np.float32) * 1.37 - 50


def _save_nifti(path, array, affine):
    nib.save(nib.Nifti1Image(np.asarray(array), affine), path)
    return path


# ------------------------------------------------------------------------------------------------- NIfTI


def test_nibabel_anatomical_loads_in_ras_with_its_spacing():
    raw = nib.load(_anatomical_path())
    assert nib.aff2axcodes(raw.affine) == ("L", "A", "S")  # stored with X to the left: the loader must flip it
    volume = load_nifti(_anatomical_path())
    assert isinstance(volume, Volume) and volume.array.dtype == np.float32
    assert volume.shape == (33, 41, 25) and volume.spacing == (2.0, 2.0, 2.0)
    np.testing.assert_array_equal(volume.array, raw.get_fdata()[::-1])
    assert np.all(np.diag(volume.affine)[:3] > 0) and nib.aff2axcodes(volume.affine) == ("R", "A", "S")


def test_flipped_and_transposed_nifti_load_to_the_same_canonical_array(tmp_path):
    reference = load_nifti(_anatomical_path())
    data, affine = reference.array, reference.affine
    flip_y = np.diag([1.0, -1.0, 1.0, 1.0])
    flip_y[1, 3] = data.shape[1] - 1  # voxel j of the flipped array is voxel (Y-1-j) of the original
    flipped = _save_nifti(tmp_path / "flipped.nii.gz", data[:, ::-1, :], affine @ flip_y)
    swap = np.eye(4)[[2, 0, 1, 3]].T  # stored axes (Z, X, Y)
    transposed = _save_nifti(tmp_path / "transposed.nii", data.transpose(2, 0, 1), affine @ swap)
    for path in (flipped, transposed):
        volume = load_nifti(path)
        np.testing.assert_array_equal(volume.array, data)
        np.testing.assert_allclose(volume.affine, affine)
        assert volume.spacing == reference.spacing


def test_4d_nifti_is_an_error_and_a_singleton_4th_axis_is_dropped(tmp_path):
    example4d = Path(nib.__file__).parent / "tests" / "data" / "example4d.nii.gz"
    with pytest.raises(DataError, match=r"example4d.nii.gz holds 2 volumes.*slicer\[\.\.\., 0\]"):
        load_nifti(example4d)
    array = _volume()
    path = _save_nifti(tmp_path / "single.nii.gz", array[..., None], np.diag([1.0, 2.0, 3.0, 1.0]))
    volume = load_nifti(path)
    np.testing.assert_array_equal(volume.array, array)
    assert volume.spacing == (1.0, 2.0, 3.0)


def test_unreadable_nifti_names_the_file(tmp_path):
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"\x1f\x8b\x08 not really gzip")
    with pytest.raises(DataError, match="broken.nii.gz cannot be read as NIfTI"):
        load_nifti(broken)
    good = _save_nifti(tmp_path / "good.nii", _volume(), np.eye(4))
    truncated = tmp_path / "truncated.nii"
    truncated.write_bytes(good.read_bytes()[:400])
    with pytest.raises(DataError, match="truncated.nii"):
        load_nifti(truncated)


# ------------------------------------------------------------------------------------- pydicom test files


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm"])
def test_pydicom_single_slices_load_rescaled_and_in_ras(name):
    path = get_testdata_file(name)
    dataset = pydicom.dcmread(path)
    with pytest.warns(VolumeWarning, match="single slice"):
        volume = load_volume(path, min_slices=1)
    rows, columns = dataset.Rows, dataset.Columns
    assert volume.shape == (columns, rows, 1)
    row_spacing, column_spacing = (float(v) for v in dataset.PixelSpacing)
    assert volume.spacing == pytest.approx((column_spacing, row_spacing, float(dataset.SliceThickness)))
    # Axial DICOM rows run to the patient's left and columns to the back (LPS): RAS+ reverses both.
    expected = dataset.pixel_array * float(dataset.get("RescaleSlope", 1)) + float(dataset.get("RescaleIntercept", 0))
    np.testing.assert_array_equal(volume.array[:, :, 0], expected[::-1, ::-1].T)


def test_a_single_slice_is_not_a_volume(tmp_path):
    import nibabel as nib

    path = tmp_path / "flat.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((8, 9, 1), np.float32), np.eye(4)), path)
    with pytest.raises(DataError, match=r"flat.nii.gz has shape \(8, 9, 1\): a single slice along Z.*at least 2"):
        load_volume(path)
    assert load_volume(path, min_slices=1).shape == (8, 9, 1), "a caller that wants 2D slices may ask for them"


@needs_dicomdir_tests
def test_pydicom_ct_series_stacks_along_the_slice_normal():
    folder = DICOMDIR_TESTS / "98892001" / "CT5N"
    volume = load_dicom_series(folder)
    assert volume.shape == (16, 16, 5)
    assert volume.spacing == pytest.approx((0.488281, 0.488281, 2.5))
    by_height = sorted((float(pydicom.dcmread(p).ImagePositionPatient[2]), p) for p in folder.iterdir())
    for k, (_, path) in enumerate(by_height):  # the file names run from the top down; Z runs up
        dataset = pydicom.dcmread(path)
        expected = dataset.pixel_array * float(dataset.RescaleSlope) + float(dataset.RescaleIntercept)
        np.testing.assert_array_equal(volume.array[:, :, k], expected[::-1, ::-1].T)


@needs_dicomdir_tests
def test_pydicom_real_folders_with_problems_give_clear_errors():
    with pytest.raises(DataError, match=r"slices are missing(.|\n)*between \S+/17106 and \S+/17136"):
        load_dicom_series(DICOMDIR_TESTS / "77654033" / "CT2")  # 4 slices of which the first is 200 mm away
    with pytest.raises(DataError, match="holds 3 DICOM series") as error:
        load_dicom_series(DICOMDIR_TESTS / "98892003" / "MR2")
    for uid in ("18148.0.481", "18148.0.136", "18148.0.17"):
        assert uid in str(error.value)
    with pytest.raises(DataError, match="do not share one orientation"):
        load_dicom_series(DICOMDIR_TESTS / "98892003" / "MR700")  # projections at 7 different angles
    with pytest.warns(VolumeWarning, match=r"DICOMDIR \(a DICOMDIR index\)"), pytest.raises(
            DataError, match="holds no DICOM image files"):
        load_dicom_series(DICOMDIR_TESTS / "TINY_ALPHA")  # an index and image files without pixel data


def test_pydicom_multiframe_dose_grid_loads_with_frame_offsets():
    dataset = pydicom.dcmread(get_testdata_file("rtdose.dcm"))
    volume = load_volume(get_testdata_file("rtdose.dcm"))
    assert volume.shape == (10, 10, 15) and volume.spacing == pytest.approx((10.0, 10.0, 5.0))
    expected = dataset.pixel_array[3] * float(dataset.DoseGridScaling)
    np.testing.assert_allclose(volume.array[:, :, 3], expected[::-1, ::-1].T, rtol=1e-6)


# --------------------------------------------------------------------------------------- synthetic series


def test_shuffled_series_stacks_exactly_like_the_ordered_one(tmp_path):
    array = _volume()
    write_dicom_series(array, tmp_path / "ordered", (0.8, 0.9, 2.5))
    shuffled_paths = write_dicom_series(array, tmp_path / "shuffled", (0.8, 0.9, 2.5), shuffle=True, seed=3)
    assert [p.name for p in shuffled_paths] != sorted(p.name for p in shuffled_paths)  # really out of order
    ordered, shuffled = load_dicom_series(tmp_path / "ordered"), load_dicom_series(tmp_path / "shuffled")
    np.testing.assert_array_equal(ordered.array, array)
    np.testing.assert_array_equal(shuffled.array, array)
    assert shuffled.spacing == pytest.approx((0.8, 0.9, 2.5))


def test_rescale_slope_and_intercept_are_applied(tmp_path):
    array = _volume() * 0.5 - 300.0
    paths = write_dicom_series(array, tmp_path / "series", (1, 1, 1), rescale=(0.5, -300.0))
    stored = pydicom.dcmread(paths[0]).pixel_array
    assert stored.min() >= 0  # the files hold the unscaled integers, not the values
    np.testing.assert_array_equal(load_dicom_series(tmp_path / "series").array, array)


def test_same_volume_from_nifti_and_dicom_is_the_same_canonical_array(tmp_path):
    array = _volume(shape=(9, 8, 6), integer=False)
    spacing, origin = (0.7, 0.9, 3.0), (-20.0, 15.0, 40.0)
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = origin
    nifti = load_volume(_save_nifti(tmp_path / "case.nii.gz", array, affine))
    paths = write_dicom_series(array, tmp_path / "case", spacing, origin=origin, shuffle=True)
    dicom = load_volume(tmp_path / "case")
    slope = float(pydicom.dcmread(paths[0]).RescaleSlope)
    np.testing.assert_allclose(dicom.array, nifti.array, atol=slope)  # within the DICOM quantisation step
    np.testing.assert_allclose(dicom.affine, nifti.affine, atol=1e-4)
    assert dicom.spacing == pytest.approx(nifti.spacing)


def test_two_series_in_one_folder_is_an_error_naming_both(tmp_path):
    write_dicom_series(_volume(), tmp_path / "mixed", (1, 1, 1), series_uid="1.2.3.4.1", description="T1 axial")
    write_dicom_series(_volume(seed=1) + 1, tmp_path / "other", (1, 1, 1), series_uid="1.2.3.4.2",
                       description="T2 axial")
    for path in (tmp_path / "other").iterdir():
        shutil.move(path, tmp_path / "mixed" / f"T2_{path.name}")
    with pytest.raises(DataError, match="holds 2 DICOM series") as error:
        load_dicom_series(tmp_path / "mixed")
    message = str(error.value)
    assert "1.2.3.4.1: T1 axial, 5 file(s)" in message and "1.2.3.4.2: T2 axial, 5 file(s)" in message
    assert "its own folder" in message


def test_missing_slice_is_an_error_naming_the_files_around_the_gap(tmp_path):
    paths = write_dicom_series(_volume(), tmp_path / "series", (1, 1, 2), shuffle=True)
    paths[2].unlink()
    with pytest.raises(DataError, match="slices are missing") as error:
        load_dicom_series(tmp_path / "series")
    assert f"between {paths[1]} and {paths[3]}: 4 mm, about 1 slice(s) missing" in str(error.value)


def test_duplicated_slice_is_an_error_naming_both_files(tmp_path):
    paths = write_dicom_series(_volume(), tmp_path / "series", (1, 1, 2))
    copy = tmp_path / "series" / "copy_of_slice_3"
    shutil.copy(paths[3], copy)
    with pytest.raises(DataError, match="share one position") as error:
        load_dicom_series(tmp_path / "series")
    assert str(paths[3]) in str(error.value) and str(copy) in str(error.value)


def test_non_dicom_files_are_skipped_with_a_warning_naming_them(tmp_path):
    array = _volume()
    write_dicom_series(array, tmp_path / "series", (1, 1, 1), file_suffix=".dcm")
    (tmp_path / "series" / "README.txt").write_text("exported by the scanner")
    (tmp_path / "series" / ".DS_Store").write_bytes(b"hidden files are ignored silently")
    with pytest.warns(VolumeWarning, match=r"skipped 1 file\(s\).*README.txt \(not a DICOM file\)"):
        volume = load_dicom_series(tmp_path / "series")
    np.testing.assert_array_equal(volume.array, array)


def _edit(path, **attributes):
    dataset = pydicom.dcmread(path)
    for name, value in attributes.items():
        if value is None:
            delattr(dataset, name)
        else:
            setattr(dataset, name, value)
    dataset.save_as(path)


def test_uneven_steps_warn_and_use_the_median(tmp_path):
    paths = write_dicom_series(_volume(shape=(4, 4, 6)), tmp_path / "series", (1, 1, 2))
    position = pydicom.dcmread(paths[3]).ImagePositionPatient
    _edit(paths[3], ImagePositionPatient=[position[0], position[1], float(position[2]) + 0.4])
    with pytest.warns(VolumeWarning, match=r"uneven slice steps \(median 2 mm\).*IM0003 -> \S*IM0004: 2.4 mm"):
        volume = load_dicom_series(tmp_path / "series")
    assert volume.spacing[2] == pytest.approx(2.0)


def test_slices_of_different_sizes_are_an_error_naming_the_file(tmp_path):
    write_dicom_series(_volume(), tmp_path / "series", (1, 1, 1))
    write_dicom_series(_volume(shape=(5, 7, 1)), tmp_path / "small", (1, 1, 1), series_uid=pydicom.dcmread(
        next((tmp_path / "series").iterdir())).SeriesInstanceUID, origin=(0, 0, 10))
    shutil.move(tmp_path / "small" / "IM0001", tmp_path / "series" / "odd_one")
    with pytest.raises(DataError, match=r"Rows x Columns 7 x 5: \S+odd_one"):
        load_dicom_series(tmp_path / "series")


def test_without_positions_slices_are_sorted_by_instance_number(tmp_path):
    array = _volume()
    paths = write_dicom_series(array, tmp_path / "series", (1, 1, 2.5), shuffle=True)
    for path in paths:
        _edit(path, ImagePositionPatient=None)
    with pytest.warns(VolumeWarning, match="sorted by InstanceNumber"):
        volume = load_dicom_series(tmp_path / "series")
    np.testing.assert_array_equal(volume.array, array)
    assert volume.spacing == pytest.approx((1.0, 1.0, 2.5))


def test_enhanced_multiframe_file_uses_per_frame_positions(tmp_path):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    array = _volume()
    paths = write_dicom_series(array, tmp_path / "series", (1, 1, 2))
    slices = [pydicom.dcmread(path) for path in paths]
    order = [3, 0, 4, 1, 2]  # frames stored out of order: positions, not frame numbers, decide
    combined = slices[0]
    combined.NumberOfFrames = len(order)
    combined.PixelData = b"".join(slices[k].PixelData for k in order)
    frames = []
    for k in order:
        plane = Dataset()
        plane.ImagePositionPatient = slices[k].ImagePositionPatient
        frame = Dataset()
        frame.PlanePositionSequence = Sequence([plane])
        frames.append(frame)
    combined.PerFrameFunctionalGroupsSequence = Sequence(frames)
    del combined.ImagePositionPatient
    combined.save_as(tmp_path / "multiframe.dcm")
    volume = load_volume(tmp_path / "multiframe.dcm")
    np.testing.assert_array_equal(volume.array, array)


# ------------------------------------------------------------------------------------ dispatch and sets


def test_load_volume_dispatches_and_rejects_other_formats(tmp_path):
    np.save(tmp_path / "volume.npy", _volume())
    assert load_volume(tmp_path / "volume.npy").shape == (6, 7, 5)
    np.save(tmp_path / "flat.npy", np.zeros((4, 4)))
    with pytest.raises(DataError, match="3D numeric array"):
        load_volume(tmp_path / "flat.npy")
    (tmp_path / "scan.mha").write_bytes(b"ObjectType = Image")
    with pytest.raises(DataError, match=r"scan.mha: unsupported volume format.*\.nii\.gz"):
        load_volume(tmp_path / "scan.mha")
    with pytest.raises(DataError, match="does not exist"):
        load_volume(tmp_path / "nowhere.nii.gz")


def _class_tree(root, classes=("a", "b", "c")):
    """root/<class>/ with one NIfTI case and one DICOM-folder case per class; returns the expected arrays."""
    expected = {}
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        nifti_array, dicom_array = _volume(seed=2 * label), _volume(seed=2 * label + 1)
        _save_nifti(root / name / "case1.nii.gz", nifti_array, np.eye(4))
        write_dicom_series(dicom_array, root / name / "case2", (1, 1, 1))
        expected[root / name / "case1.nii.gz"] = nifti_array
        expected[root / name / "case2"] = dicom_array
    (root / "a" / "notes.txt").write_text("ignored: not a volume")
    return expected


def test_volume_dataset_from_class_folders_and_from_a_csv(tmp_path):
    expected = _class_tree(tmp_path / "tree")
    data = load_volume_dataset(tmp_path / "tree")
    assert data.class_names == ["a", "b", "c"] and data.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert data.paths == [str(path) for path in expected] and data.skipped == []
    for volume, array in zip(data.volumes, expected.values()):
        np.testing.assert_array_equal(volume.array, array)
    manifest = tmp_path / "tree" / "cases.csv"
    manifest.write_text("path,label,note\nc/case2,c,x\na/case1.nii.gz,a,y\nb/case1.nii.gz,b,z\n")
    from_csv = load_volume_dataset(manifest, class_names=["c", "b", "a"])
    assert from_csv.labels.tolist() == [0, 2, 1]
    np.testing.assert_array_equal(from_csv.volumes[0].array, expected[tmp_path / "tree" / "c" / "case2"])


def test_volume_dataset_errors_name_the_problem(tmp_path):
    _class_tree(tmp_path / "tree", classes=("a", "b"))
    with pytest.raises(DataError, match="does not exist"):
        load_volume_dataset(tmp_path / "nowhere")
    with pytest.raises(DataError, match="1 class"):
        load_volume_dataset(tmp_path / "tree", class_names=["a"])
    (tmp_path / "tree" / "empty").mkdir()
    with pytest.raises(DataError, match="empty holds no volumes"):
        load_volume_dataset(tmp_path / "tree")
    shutil.rmtree(tmp_path / "tree" / "empty")
    bad_columns = tmp_path / "tree" / "bad.csv"
    bad_columns.write_text("file,class\na/case1.nii.gz,a\n")
    with pytest.raises(DataError, match=r"columns path,label.*found columns: file, class"):
        load_volume_dataset(bad_columns)
    missing = tmp_path / "tree" / "missing.csv"
    missing.write_text("path,label\na/case1.nii.gz,a\nb/gone.nii.gz,b\na/lost,a\n")
    with pytest.raises(DataError, match=r"2 file\(s\) that do not exist.*gone.nii.gz.*lost"):
        load_volume_dataset(missing)


def test_unreadable_case_is_skipped_with_a_warning_unless_its_class_is_left_empty(tmp_path):
    _class_tree(tmp_path / "tree", classes=("a", "b"))
    (tmp_path / "tree" / "a" / "broken.nii.gz").write_bytes(b"not a volume")
    with pytest.warns(VolumeWarning, match=r"skipped the unreadable case \S+broken.nii.gz"):
        data = load_volume_dataset(tmp_path / "tree")
    assert len(data.volumes) == 4 and data.skipped[0][0].endswith("broken.nii.gz")
    for case in ("case1.nii.gz", "case2"):
        path = tmp_path / "tree" / "b" / case
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    (tmp_path / "tree" / "b" / "bad.nii").write_bytes(b"not a volume either")
    with pytest.warns(VolumeWarning), pytest.raises(DataError, match="No readable volume is left for class 'b'"):
        load_volume_dataset(tmp_path / "tree")


# ------------------------------------------------------------------------------------ synthetic MRI set


@pytest.fixture(scope="module")
def mri_samples(tmp_path_factory):
    return write_mri_volume_samples(tmp_path_factory.mktemp("mri"), cases_per_class=4, dicom_every=2)


def test_synthetic_mri_set_loads_for_both_classes_from_nifti_and_dicom(mri_samples):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the written files must load without any complaint
        data = load_volume_dataset(mri_samples)
        from_csv = load_volume_dataset(mri_samples / "cases.csv")
    assert data.class_names == ["normal", "tumour"] and np.bincount(data.labels).tolist() == [4, 4]
    assert sum(Path(path).is_dir() for path in data.paths) == 4  # DICOM series folders in both classes
    assert len({volume.shape[2] for volume in data.volumes}) > 1  # depths vary: resampling is needed
    assert all(volume.shape[:2] == (32, 40) for volume in data.volumes)
    assert from_csv.labels.tolist() == data.labels.tolist()
    manifest = json.loads((mri_samples / "SAMPLE_DATA.json").read_text())
    assert "synthetic" in manifest["title"].lower() and "tests only" in manifest["description"]
    for name, digest in manifest["md5"].items():
        assert md5sum(mri_samples / name) == digest


def test_synthetic_dicom_cases_are_written_in_shuffled_file_order(mri_samples):
    folder = mri_samples / "tumour" / "tumour_001"
    instances = [int(pydicom.dcmread(path).InstanceNumber) for path in sorted(folder.iterdir())]
    assert instances != sorted(instances)


def test_synthetic_lesion_changes_only_the_lesion_region():
    anatomy, spacing = load_anatomy()
    tumour, case_spacing, mask, lesion = make_mri_case(anatomy, spacing, seed=7, tumour=True)
    normal, _, normal_mask, no_lesion = make_mri_case(anatomy, spacing, seed=7, tumour=False)
    assert no_lesion is None and not normal_mask.any() and mask.sum() > 10
    difference = np.abs(tumour - normal)
    near_lesion = distance_transform_edt(~mask) <= 4  # the soft edge reaches 2-3 voxels out
    assert difference[mask].mean() > 250  # tissue is about 500-1000: the lesion stands out
    assert difference[~near_lesion].max() == 0  # and nothing else changed
    centre = np.round(np.asarray(lesion["centre_mm"]) / case_spacing).astype(int)
    assert mask[tuple(centre)]


@pytest.mark.parametrize("index", [0, 1])  # tumour_000 is NIfTI, tumour_001 a DICOM series
def test_written_tumour_cases_hold_the_lesion_listed_in_cases_csv(mri_samples, index):
    with open(mri_samples / "cases.csv", newline="") as handle:
        rows = {row["path"]: row for row in csv.DictReader(handle)}
    row = rows[f"tumour/tumour_{index:03d}" + ("" if index % 2 else ".nii.gz")]
    assert row["label"] == "tumour" and row["lesion_kind"] in ("bright", "ring")
    assert all(value == "" for key, value in rows["normal/normal_000.nii.gz"].items() if key.startswith("lesion"))
    volume = load_volume(mri_samples / row["path"])
    anatomy, spacing = load_anatomy()
    seed = (0, 1, index)  # the writer's seed for case `index` of class 1 (tumour)
    tumour, case_spacing, mask, _ = make_mri_case(anatomy, spacing, seed, tumour=True, depth=volume.shape[2])
    normal, _, _, _ = make_mri_case(anatomy, spacing, seed, tumour=False, depth=volume.shape[2])
    np.testing.assert_array_equal(volume.array, tumour)
    assert volume.spacing == pytest.approx(case_spacing, rel=1e-6)
    centre = [float(row[f"lesion_{axis}_mm"]) / size for axis, size in zip("xyz", volume.spacing)]
    assert mask[tuple(np.round(centre).astype(int))]
    assert np.abs(volume.array - normal)[mask].mean() > 250
