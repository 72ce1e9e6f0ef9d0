"""The registry of public data sets: one entry per data set, described once.

Each entry records where the data comes from (home page and file URLs), how to check it (MD5 of every
file), its licence and citation, the task and class names, and the array shapes a loader returns. Loaders,
``make data`` and the reports all read these facts from here rather than repeating them.

Files live under ``<DATA_DIR>/<entry.folder>/<file name>``, one folder per data set.
"""

import dataclasses

from common.datasets import medmnist_info


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One file of a data set: its name in the data folder, where to download it, and its MD5."""

    name: str
    md5: str
    url: str | None = None  # None: the file cannot be downloaded automatically (see manual_steps)


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Facts about one public data set."""

    key: str
    title: str
    folder: str  # sub-folder of DATA_DIR holding the files
    homepage: str
    licence: str
    citation: str
    task: str  # "binary", "multi-class", "multi-label" or "ordinal"
    class_names: tuple
    shapes: dict  # split -> array shape of the images a loader returns
    files: tuple  # RemoteFile entries
    manual_steps: str = ""  # how to obtain the files by hand, shown whenever a download is impossible
    default_download: bool = True  # False: `make data` skips it unless its key is named on the command line

    def file(self, name):
        for remote in self.files:
            if remote.name == name:
                return remote
        raise KeyError(f"{self.key} has no file {name!r}; it has {', '.join(f.name for f in self.files)}.")


USPS_CITATION = (
    "J. J. Hull, 'A database for handwritten text recognition research', IEEE TPAMI 16(5), 1994; "
    "text form from Hastie, Tibshirani & Friedman, The Elements of Statistical Learning."
)

REGISTRY = {
    # The ESL book's text form: each line is the digit then 256 grey values in [-1, 1].
    "usps": DatasetInfo(
        key="usps",
        title="USPS handwritten digits (ESL text form)",
        folder="usps",
        homepage="https://hastie.su.domains/ElemStatLearn/data.html",
        licence="public research data",
        citation=USPS_CITATION,
        task="multi-class",
        class_names=tuple(str(digit) for digit in range(10)),
        shapes={"train": (7291, 16, 16, 1), "test": (2007, 16, 16, 1)},
        files=(
            RemoteFile("zip.train.gz", "206835541ea704bcfb4b6eea872678bf",
                       "https://hastie.su.domains/ElemStatLearn/datasets/zip.train.gz"),
            RemoteFile("zip.test.gz", "f9350e940232b89f1dc8f8eacac88625",
                       "https://hastie.su.domains/ElemStatLearn/datasets/zip.test.gz"),
        ),
        manual_steps=(
            "Download zip.train.gz and zip.test.gz from https://hastie.su.domains/ElemStatLearn/data.html "
            "(section 'ZIP code') and put both files, still gzipped, in {folder}."
        ),
    ),
    # The same digits as one HDF5 file (the layout popularised on Kaggle), values in [0, 1].
    "usps_h5": DatasetInfo(
        key="usps_h5",
        title="USPS handwritten digits (HDF5 form)",
        folder="usps",
        homepage="https://www.kaggle.com/datasets/bistaumanga/usps-dataset",
        licence="public research data",
        citation=USPS_CITATION,
        task="multi-class",
        class_names=tuple(str(digit) for digit in range(10)),
        shapes={"train": (7291, 16, 16, 1), "test": (2007, 16, 16, 1)},
        files=(RemoteFile("usps.h5", "355df6b942eb766252e0340bc019b0b9"),),
        manual_steps=(
            "Sign in to Kaggle, download usps.h5 from "
            "https://www.kaggle.com/datasets/bistaumanga/usps-dataset and put it in {folder}. "
            "Or use the ESL text form instead (--data-format esl), which downloads automatically."
        ),
    ),
    # A folder tree rather than single files: Training/<class>/*.jpg and Testing/<class>/*.jpg.
    "brain_tumor_mri": DatasetInfo(
        key="brain_tumor_mri",
        title="Brain Tumor MRI Dataset (Nickparvar, Kaggle)",
        folder="brain_tumor_mri",
        homepage="https://www.kaggle.com/datasets/masoudnickparvar/brain-tumor-mri-dataset",
        licence="CC0 1.0",
        citation="M. Nickparvar, Brain Tumor MRI Dataset, Kaggle, 2021. doi:10.34740/KAGGLE/DSV/2645886",
        task="multi-class",
        class_names=("glioma", "meningioma", "notumor", "pituitary"),
        shapes={"Training": (5712, None, None, 3), "Testing": (1311, None, None, 3)},
        files=(),
        manual_steps=(
            "Sign in to Kaggle, download the archive from "
            "https://www.kaggle.com/datasets/masoudnickparvar/brain-tumor-mri-dataset (or run "
            "`kaggle datasets download masoudnickparvar/brain-tumor-mri-dataset`), and unzip it so that "
            "{folder}/Training/glioma/ and {folder}/Testing/glioma/ exist (likewise meningioma, notumor, "
            "pituitary)."
        ),
    ),
}


def _medmnist_entries():
    """One ``DatasetInfo`` per published (flag, size), keyed "retinamnist", "retinamnist_64", ...

    ``default_download`` is True only for ``medmnist_info.DEFAULT_DOWNLOADS``, so that ``make data`` fetches the
    course's sets and not all 60 files (tens of gigabytes at 224 pixels).
    """
    info = medmnist_info
    entries = {}
    for flag, facts in info.MEDMNIST.items():
        for size in facts.sizes:
            key = info.medmnist_key(flag, size)
            name, url = facts.file_name(size), facts.url(size)
            cube = "x".join([str(size)] * facts.dimensions)
            entries[key] = DatasetInfo(
                key=key,
                title=f"{facts.python_class} {cube} (MedMNIST v2)",
                folder=info.FOLDER,
                homepage=info.HOMEPAGE,
                licence=facts.licence,
                citation=f"{info.MEDMNIST_CITATION}. Source data: {facts.source}; cite its paper as listed on "
                         f"{info.HOMEPAGE}.",
                task=facts.task,
                class_names=facts.labels,
                shapes={split: (count, *facts.image_shape(size)) for split, count in zip(info.SPLITS, facts.n_samples)},
                files=(RemoteFile(name, facts.md5[size], url),),
                # fetch_file already names the URL, the target path and the MD5; add where the file comes from.
                manual_steps=(f"{name} is one file of the MedMNIST v2 record on Zenodo ({info.ZENODO}); keep its "
                              "official name in {folder}."),
                default_download=key in info.DEFAULT_DOWNLOADS,
            )
    return entries


# MedMNIST v2: 18 data sets, each in 2 or 4 image sizes, one entry per (set, size), built from the facts table
# in medmnist_info.py.
REGISTRY.update(_medmnist_entries())
