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

# MD5 of every file of the ISBI 2012 training slices, as the course distributes them.
ISBI2012_MD5 = {
    "images/0.png": "2afebfcb620840fdd1b1e4ceb4a588c7",
    "images/1.png": "ab7a063834b43ec69b446b3fff8c57c1",
    "images/2.png": "d45a75c5f4a267af1fbe86a0e5707c3f",
    "images/3.png": "3197cfd787fd16b78e4b2392626a4ba2",
    "images/4.png": "ea64734a24519eeb094880ce6f21b282",
    "images/5.png": "e3943eae65395f49dc2ec3c5253735ce",
    "images/6.png": "957776eb2bc432fd4b744971851282df",
    "images/7.png": "5b38e1af13122d955ae40af7d6b73e59",
    "images/8.png": "0dfb73dd214eff1d0a71e62837c68b9d",
    "images/9.png": "abc449b7f9bf04497100905ac5759f4a",
    "images/10.png": "6f6aa289d892900549835072eab69ad6",
    "images/11.png": "4c10214544e9234d844c272871536232",
    "images/12.png": "9bf58a68ec63eacf647121fc19245db5",
    "images/13.png": "11ae1cd1c03f6986e3f991c22305dbc9",
    "images/14.png": "ab9d88144bff97089c2cf070f42083a4",
    "images/15.png": "1d2ee42dc07b1c4978a2586e4cd1c171",
    "images/16.png": "5a09a3b20492f4925956c2ba99ad20ce",
    "images/17.png": "6e78641e557f07b9da13d454e994c824",
    "images/18.png": "e154c4566390f22bea2b38cb03bae898",
    "images/19.png": "8a90e5b6da3047995cf7e3f75cb4aa8f",
    "images/20.png": "2d28240351c28943b8f226fd5c10fbc2",
    "images/21.png": "adda4ca4aa9ea6efd1c77d8a44c752de",
    "images/22.png": "f0a4aa8d44f248b9d520f6a45b0d459a",
    "images/23.png": "644f6133fa0fa77a870ee946c6ffc30b",
    "labels/0.png": "da1f734751b9a674df60e4a3a7edebc9",
    "labels/1.png": "547fa0459c175628fab1784bc80acd34",
    "labels/2.png": "fdbed6ad4644adb64fc891cfa6311c9e",
    "labels/3.png": "15a2d51869b2ba0caf2dc023416b3acd",
    "labels/4.png": "648e37ac977dcdbfde13b3189f6f14bc",
    "labels/5.png": "f15b4f0b114edd34d36e2eac01b2c314",
    "labels/6.png": "2471b244c69e36e2491b534d1677a36f",
    "labels/7.png": "26bff7693a05ddf93a51ec836518bef6",
    "labels/8.png": "090f8eae5881578392c1de379b7679ae",
    "labels/9.png": "4503fd4ecb55fb842c480439d825e8f1",
    "labels/10.png": "5b7c2ee0ce40ede3cdd1a389886c8145",
    "labels/11.png": "613111fb34ab2e13951acbdfcb6d59a7",
    "labels/12.png": "55d9a4154f40dc3d92237028d3c9bd09",
    "labels/13.png": "3213cf3ae031b269543ff8e784e99f1d",
    "labels/14.png": "0828e0790593b7c9cdcfd7bb78e296c2",
    "labels/15.png": "04adcd40931c9e30a59b0dabb991b9c7",
    "labels/16.png": "a82ab66840f2249d1fdf726a929cdf09",
    "labels/17.png": "52c2f32fe6311699724808f598c98edf",
    "labels/18.png": "634422fa516f07c0f224be0f856df601",
    "labels/19.png": "68a52b1b17b465508a05801720da3ad2",
    "labels/20.png": "38ed77eb4d6f516fd4b22e0db12ec45c",
    "labels/21.png": "0307d353eea251649dce9a2909ff4ad8",
    "labels/22.png": "83985d4942ba3905560093661f77652b",
    "labels/23.png": "6d8ac95219260433f2546b6e8a66585a",
}


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
    # The ISBI 2012 EM segmentation challenge's training set as one PNG per slice (slices 0-23 of its 30);
    # the challenge site needs a login, so the files are placed by hand and checked against these MD5s.
    "isbi2012_em": DatasetInfo(
        key="isbi2012_em",
        title="ISBI 2012 EM segmentation challenge, training slices 0-23 (Drosophila larva VNC, ssTEM)",
        folder="isbi2012_em",
        homepage="https://imagej.net/events/isbi-2012-segmentation-challenge",
        licence="public challenge data; cite the papers",
        citation=("A. Cardona et al., 'An integrated micro- and macroarchitectural analysis of the Drosophila "
                  "brain by computer-assisted serial section electron microscopy', PLoS Biology 8(10), 2010; "
                  "I. Arganda-Carreras et al., 'Crowdsourcing the creation of image segmentation algorithms for "
                  "connectomics', Frontiers in Neuroanatomy 9, 2015."),
        task="segmentation",
        class_names=("membrane", "cell"),
        shapes={"images": (24, 512, 512), "labels": (24, 512, 512)},
        files=tuple(RemoteFile(name, md5) for name, md5 in ISBI2012_MD5.items()),
        manual_steps=(
            "Download the training set (train-volume.tif, train-labels.tif) from the challenge page "
            "https://imagej.net/events/isbi-2012-segmentation-challenge and write its slices 0-23 as "
            "{folder}/images/<N>.png and {folder}/labels/<N>.png (512x512 grey; labels 255 = cell, 0 = "
            "membrane). Or point --data at any folder with images/ and labels/ (or masks/) paired by name."
        ),
        default_download=False,
    ),
    # The Medical Segmentation Decathlon's hippocampus task (3D MRI), one tar archive (Simpson et al. 2019).
    "msd_hippocampus": DatasetInfo(
        key="msd_hippocampus",
        title="Medical Segmentation Decathlon, Task04 Hippocampus (3D MRI)",
        folder="msd_hippocampus",
        homepage="http://medicaldecathlon.com/",
        licence="CC BY-SA 4.0",
        citation=("A. L. Simpson et al., 'A large annotated medical image dataset for the development and "
                  "evaluation of segmentation algorithms', arXiv:1902.09063, 2019; M. Antonelli et al., 'The "
                  "Medical Segmentation Decathlon', Nature Communications 13, 2022."),
        task="segmentation",
        class_names=("background", "anterior", "posterior"),
        shapes={"imagesTr": (260, None, None, None)},
        files=(RemoteFile("Task04_Hippocampus.tar", "9d24dba78a72977dbd1d2e110310f31b",
                          "https://msd-for-monai.s3-us-west-2.amazonaws.com/Task04_Hippocampus.tar"),),
        default_download=False,
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
