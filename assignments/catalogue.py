"""The suite's assignments: their numbers, packages and titles, and where each one's rubric is.

Shared code in ``common`` knows nothing of the assignments; the launcher, the grading command and the student
workflow look assignments up here.
"""

import importlib
import importlib.util

# Number -> (package under assignments/, title). A package that does not exist yet is "not implemented".
ASSIGNMENTS = {
    1: ("a1_usps_fcnet", "USPS digits with a compact fully-connected network"),
    2: ("a2_spect_staging", "SPECT Parkinson's-disease staging"),
    3: ("a3_mri_fusion", "3D MRI tumour detection: single slice, late / early fusion, 3D ResNet"),
    4: ("a4_medmnist", "MedMNIST: 3D CNN, transfer learning, Grad-CAM, quantization, ResNet"),
    5: ("a5_brain_tumor_cnn", "Kaggle brain-tumour MRI CNN"),
    6: ("a6_segmentation", "Segmentation with U-Net and Attention U-Net"),
    7: ("a7_chexnet", "CheXNet: DenseNet-121 for pneumonia on chest X-rays, with CAM and Grad-CAM"),
}


def is_built(number):
    """Whether assignment ``number``'s package exists."""
    package, _ = ASSIGNMENTS[number]
    return importlib.util.find_spec(f"assignments.{package}") is not None


def package_name(assignment):
    """The package name for an assignment number ("1") or a package name (returned as it is)."""
    name = str(assignment).strip()
    if name.isdigit() and int(name) in ASSIGNMENTS:
        return ASSIGNMENTS[int(name)][0]
    return name


def rubric_for(assignment):
    """(package name, ``RUBRIC``) of an assignment given by number (1-7) or package name.

    Raises:
        LookupError: no such assignment, or it has no rubric; the message lists the known ones and says how to
            grade a renamed copy.
    """
    name = package_name(assignment)
    try:
        module = importlib.import_module(f"assignments.{name}.rubric")
    except ImportError as error:
        known = ", ".join(package for package, _ in ASSIGNMENTS.values())
        raise LookupError(f"no rubric for assignment {assignment!r} ({error}); known assignments: {known}. "
                          "For a renamed copy, pass --assignment with the assignment it was copied from.") from None
    return name, module.RUBRIC


def grade_run(path, assignment=None, allow_sample=False, data_dir=None, hidden_test=None):
    """Grade a run folder or a submission archive with the rubric of the assignment it names (or
    ``assignment``), re-running its models on the data in ``data_dir`` (None: no re-run); see
    ``common.grading.grade``."""
    from common.grading import GradeOptions, grade

    return grade(path, rubric_for, GradeOptions(assignment, allow_sample, data_dir, hidden_test))
