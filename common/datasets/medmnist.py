"""MedMNIST v2: the facts of its 18 data sets, a loader for the official ``.npz`` files, and sample data.

MedMNIST v2 (Yang et al., Scientific Data 2023) is 12 two-dimensional and 6 three-dimensional biomedical
classification sets, standardised to small square images. Each set is published on Zenodo as one ``.npz``
file per image size: 28, 64, 128 and 224 pixels for the 2D sets, 28 and 64 voxels for the 3D sets
("MedMNIST+"). This module reads those files without the ``medmnist`` package, which pulls in PyTorch.

Every file holds six uint8 arrays, ``{train,val,test}_images`` and ``{train,val,test}_labels``:

- 2D grey: images (N, S, S); 2D colour: images (N, S, S, 3); 3D: images (N, S, S, S), all in 0..255;
- labels (N, 1) with the class index, or (N, L) of 0/1 for the multi-label ChestMNIST.

``load_medmnist`` adds the channel axis, so images are (N, S, S, C) for 2D and (N, S, S, S, 1) for 3D, and
returns labels as int64 (N,), or (N, L) for multi-label. For Keras, scale with ``to_float_images`` and batch
with ``common.train.as_dataset``::

    data = load_medmnist("retinamnist", size=28)       # downloads retinamnist.npz into DATA_DIR/medmnist/
    x_train, y_train = data.splits["train"]            # uint8 (1080, 28, 28, 3), int64 (1080,)
    train = as_dataset((to_float_images(x_train), y_train), batch_size=64, shuffle=True)

Files live in ``<DATA_DIR>/medmnist/`` under their official names (``retinamnist.npz``,
``retinamnist_64.npz``, ...), the same layout as ``../shared/data/medmnist``.
"""

import dataclasses
import difflib
import zipfile
from pathlib import Path

import numpy as np

from common.config import default_data_dir
from common.datasets.download import SAMPLE_MANIFEST, DataError, fetch_file, read_sample_manifest
from common.datasets.samples import SAMPLES_DIR, _write_manifest

FOLDER = "medmnist"
SPLITS = ("train", "val", "test")
SIZES_2D = (28, 64, 128, 224)
SIZES_3D = (28, 64)
HOMEPAGE = "https://medmnist.github.io/"
ZENODO = "https://doi.org/10.5281/zenodo.10519652"
MEDMNIST_CITATION = (
    "J. Yang, R. Shi, D. Wei, Z. Liu, L. Zhao, B. Ke, H. Pfister, B. Ni, 'MedMNIST v2 - A large-scale "
    "lightweight benchmark for 2D and 3D biomedical image classification', Scientific Data 10, 41 (2023). "
    "doi:10.1038/s41597-022-01721-8"
)
# The sets the course uses: `make data` downloads these; every other (flag, size) only when named.
DEFAULT_DOWNLOADS = ("retinamnist", "chestmnist", "nodulemnist3d", "adrenalmnist3d", "adrenalmnist3d_64")


@dataclasses.dataclass(frozen=True)
class MedMNISTFacts:
    """The published facts of one MedMNIST v2 data set (one "flag"), for every image size.

    ``labels`` are the class names in label-index order; ``n_samples`` the (train, val, test) counts, equal for
    every size; ``md5`` maps image size to the MD5 of that size's ``.npz`` file.
    """

    python_class: str  # the class name in the medmnist package, also the set's display name
    dimensions: int  # 2 or 3
    task: str  # "binary", "multi-class", "multi-label" or "ordinal"
    channels: int  # 1 (grey) or 3 (RGB); always 1 for 3D
    n_samples: tuple  # (train, val, test)
    licence: str
    labels: tuple
    md5: dict  # image size -> MD5 of the .npz file
    source: str  # the data the set was made from, as its description in medmnist/info.py gives it

    @property
    def sizes(self):
        """The published image sizes, smallest first."""
        return tuple(sorted(self.md5))

    @property
    def num_classes(self):
        """Number of classes (multi-class, binary, ordinal) or of labels (multi-label)."""
        return len(self.labels)

    def file_name(self, size=28):
        """The official file name: ``{flag}.npz`` for size 28, ``{flag}_{size}.npz`` otherwise."""
        flag = self.python_class.lower()
        return f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz"

    def url(self, size=28):
        """The Zenodo download address of the file of image size ``size``."""
        return f"https://zenodo.org/records/10519652/files/{self.file_name(size)}?download=1"

    def image_shape(self, size=28):
        """Shape of one image as ``load_medmnist`` returns it: (S, S, C) for 2D, (S, S, S, 1) for 3D."""
        return (size,) * self.dimensions + (self.channels,)


# Transcribed from medmnist 3.0.2 (PyPI wheel medmnist-3.0.2-py3-none-any.whl, file medmnist/info.py, dict
# INFO); file sizes from medmnist/dataset.py (MedMNIST2D.available_sizes, MedMNIST3D.available_sizes). Every
# URL there is https://zenodo.org/records/10519652/files/<file name>?download=1, which MedMNISTFacts.url
# rebuilds. Tasks are renamed to this suite's names: "multi-label, binary-class" -> "multi-label",
# "ordinal-regression" -> "ordinal", "binary-class" -> "binary". ``source`` condenses the description text.
MEDMNIST = {
    "pathmnist": MedMNISTFacts(
        "PathMNIST", dimensions=2, task="multi-class", channels=3, n_samples=(89996, 10004, 7180),
        licence="CC BY 4.0",
        labels=("adipose", "background", "debris", "lymphocytes", "mucus", "smooth muscle", "normal colon mucosa",
                "cancer-associated stroma", "colorectal adenocarcinoma epithelium"),
        md5={28: "a8b06965200029087d5bd730944a56c1", 64: "55aa9c1e0525abe5a6b9d8343a507616",
             128: "ac42d08fb904d92c244187169d1fd1d9", 224: "2c51a510bcdc9cf8ddb2af93af1eadec"},
        source="NCT-CRC-HE-100K and CRC-VAL-HE-7K, H&E colorectal cancer histology patches",
    ),
    "chestmnist": MedMNISTFacts(
        "ChestMNIST", dimensions=2, task="multi-label", channels=1, n_samples=(78468, 11219, 22433),
        licence="CC BY 4.0",
        labels=("atelectasis", "cardiomegaly", "effusion", "infiltration", "mass", "nodule", "pneumonia",
                "pneumothorax", "consolidation", "edema", "emphysema", "fibrosis", "pleural", "hernia"),
        md5={28: "02c8a6516a18b556561a56cbdd36c4a8", 64: "9de6cd0b934ebb5b7426cfba5efbae16",
             128: "db107e5590b27930b62dbaf558aebee3", 224: "45bd33e6f06c3e8cdb481c74a89152aa"},
        source="NIH-ChestXray14, frontal chest X-rays with 14 text-mined disease labels",
    ),
    "dermamnist": MedMNISTFacts(
        "DermaMNIST", dimensions=2, task="multi-class", channels=3, n_samples=(7007, 1003, 2005),
        licence="CC BY-NC 4.0",
        labels=("actinic keratoses and intraepithelial carcinoma", "basal cell carcinoma",
                "benign keratosis-like lesions", "dermatofibroma", "melanoma", "melanocytic nevi",
                "vascular lesions"),
        md5={28: "0744692d530f8e62ec473284d019b0c7", 64: "b70a2f5635c6199aeaa28c31d7202e1f",
             128: "2defd784463fa5243564e855ed717de1", 224: "8974907d8e169bef5f5b96bc506ae45d"},
        source="HAM10000, dermatoscopic images of pigmented skin lesions",
    ),
    "octmnist": MedMNISTFacts(
        "OCTMNIST", dimensions=2, task="multi-class", channels=1, n_samples=(97477, 10832, 1000),
        licence="CC BY 4.0",
        labels=("choroidal neovascularization", "diabetic macular edema", "drusen", "normal"),
        md5={28: "c68d92d5b585d8d81f7112f81e2d0842", 64: "e229e9440236b774d9f0dfef9d07bdaf",
             128: "0a97e76651ace45c5d943ee3f65b63ae", 224: "abc493b6d529d5de7569faaef2773ba3"},
        source="a prior data set of 109,309 retinal optical coherence tomography (OCT) images",
    ),
    "pneumoniamnist": MedMNISTFacts(
        "PneumoniaMNIST", dimensions=2, task="binary", channels=1, n_samples=(4708, 524, 624),
        licence="CC BY 4.0",
        labels=("normal", "pneumonia"),
        md5={28: "28209eda62fecd6e6a2d98b1501bb15f", 64: "8f4eceb4ccffa70c672198ea285246c6",
             128: "05b46931834c231683c68f40c47b2971", 224: "d6a3c71de1b945ea11211b03746c1fe1"},
        source="a prior data set of 5,856 paediatric chest X-rays",
    ),
    "retinamnist": MedMNISTFacts(
        "RetinaMNIST", dimensions=2, task="ordinal", channels=3, n_samples=(1080, 120, 400),
        licence="CC BY 4.0",
        labels=("0", "1", "2", "3", "4"),  # diabetic-retinopathy grade, 0 (none) to 4
        md5={28: "bd4c0672f1bba3e3a89f0e4e876791e4", 64: "afda852cc34dcda56f86ad2b2457dbcc",
             128: "e48e916a24454daf90583d4e6efb1a18", 224: "eae7e3b6f3fcbda4ae613ebdcbe35348"},
        source="DeepDRiD challenge, 1,600 retina fundus images graded for diabetic retinopathy",
    ),
    "breastmnist": MedMNISTFacts(
        "BreastMNIST", dimensions=2, task="binary", channels=1, n_samples=(546, 78, 156),
        licence="CC BY 4.0",
        labels=("malignant", "normal, benign"),
        md5={28: "750601b1f35ba3300ea97c75c52ff8f6", 64: "742edef2a1fd1524b2efff4bd7ba9364",
             128: "363e4b3f8d712e9b5de15470a2aaadf1", 224: "b56378a6eefa9fed602bb16d192d4c8b"},
        source="a data set of 780 breast ultrasound images (normal and benign merged into one class)",
    ),
    "bloodmnist": MedMNISTFacts(
        "BloodMNIST", dimensions=2, task="multi-class", channels=3, n_samples=(11959, 1712, 3421),
        licence="CC BY 4.0",
        labels=("basophil", "eosinophil", "erythroblast",
                "immature granulocytes(myelocytes, metamyelocytes and promyelocytes)", "lymphocyte", "monocyte",
                "neutrophil", "platelet"),
        md5={28: "7053d0359d879ad8a5505303e11de1dc", 64: "2b94928a2ae4916078ca51e05b6b800b",
             128: "adace1e0ed228fccda1f39692059dd4c", 224: "b718ff6835fcbdb22ba9eacccd7b2601"},
        source="a data set of 17,092 images of normal blood cells",
    ),
    "tissuemnist": MedMNISTFacts(
        "TissueMNIST", dimensions=2, task="multi-class", channels=1, n_samples=(165466, 23640, 47280),
        licence="CC BY 4.0",
        labels=("Collecting Duct, Connecting Tubule", "Distal Convoluted Tubule", "Glomerular endothelial cells",
                "Interstitial endothelial cells", "Leukocytes", "Podocytes", "Proximal Tubule Segments",
                "Thick Ascending Limb"),
        md5={28: "ebe78ee8b05294063de985d821c1c34b", 64: "123ece2eba09d0aa5d698fda57103344",
             128: "61b955355d7425a89687b06cca3ce0c2", 224: "b077128c4a949f0a4eb01517f9037b9c"},
        source="BBBC051 (Broad Bioimage Benchmark Collection), human kidney cortex cells",
    ),
    "organamnist": MedMNISTFacts(
        "OrganAMNIST", dimensions=2, task="multi-class", channels=1, n_samples=(34561, 6491, 17778),
        licence="CC BY 4.0",
        labels=("bladder", "femur-left", "femur-right", "heart", "kidney-left", "kidney-right", "liver",
                "lung-left", "lung-right", "pancreas", "spleen"),
        md5={28: "68e3f8846a6bd62f0c9bf841c0d9eacc", 64: "2dcccc29b88e6da5a01161ef20cda288",
             128: "eeae80d0a227a8d099027e1b3cfd3b60", 224: "50747347e05c87dd3aaf92c49f9f3170"},
        source="Liver Tumor Segmentation Benchmark (LiTS) CT, axial slices through organ bounding boxes",
    ),
    "organcmnist": MedMNISTFacts(
        "OrganCMNIST", dimensions=2, task="multi-class", channels=1, n_samples=(12975, 2392, 8216),
        licence="CC BY 4.0",
        labels=("bladder", "femur-left", "femur-right", "heart", "kidney-left", "kidney-right", "liver",
                "lung-left", "lung-right", "pancreas", "spleen"),
        md5={28: "b9ceb9546e10131b32923c5bbeaea2b1", 64: "3ce34a8724ea6f548e6db4744d03b6a9",
             128: "773c1f009daa3fe5d9a2a201b2a7ed94", 224: "050f5e875dc056f6768abf94ec9995d1"},
        source="Liver Tumor Segmentation Benchmark (LiTS) CT, coronal slices through organ bounding boxes",
    ),
    "organsmnist": MedMNISTFacts(
        "OrganSMNIST", dimensions=2, task="multi-class", channels=1, n_samples=(13932, 2452, 8827),
        licence="CC BY 4.0",
        labels=("bladder", "femur-left", "femur-right", "heart", "kidney-left", "kidney-right", "liver",
                "lung-left", "lung-right", "pancreas", "spleen"),
        md5={28: "9ab87b696fb54e2a387ebe992d6ed5f1", 64: "53a6d115339d874c25e309a994ff46d3",
             128: "ded0c5fa01a95dc4978b956f613e9b8e", 224: "b354719e553fbbb2513d5533f52a4cb1"},
        source="Liver Tumor Segmentation Benchmark (LiTS) CT, sagittal slices through organ bounding boxes",
    ),
    # The 3D sets. OrganMNIST3D orders its organs differently from the 2D Organ{A,C,S}MNIST.
    "organmnist3d": MedMNISTFacts(
        "OrganMNIST3D", dimensions=3, task="multi-class", channels=1, n_samples=(971, 161, 610),
        licence="CC BY 4.0",
        labels=("liver", "kidney-right", "kidney-left", "femur-right", "femur-left", "bladder", "heart",
                "lung-right", "lung-left", "spleen", "pancreas"),
        md5={28: "a0c5a1ff56af4f155c46d46fbb45a2fe", 64: "58a2205adf14a9d0a189cb06dc78bf10"},
        source="Liver Tumor Segmentation Benchmark (LiTS) CT, 3D organ bounding boxes",
    ),
    "nodulemnist3d": MedMNISTFacts(
        "NoduleMNIST3D", dimensions=3, task="binary", channels=1, n_samples=(1158, 165, 310),
        licence="CC BY 4.0",
        labels=("benign", "malignant"),
        md5={28: "8755a7e9e05a4d9ce80a24c3e7a256f3", 64: "c47c5b7d457bf6332200d2ea6d64ecd8"},
        source="LIDC-IDRI thoracic CT; malignancy levels 1-2 benign, 4-5 malignant, level 3 left out",
    ),
    "adrenalmnist3d": MedMNISTFacts(
        "AdrenalMNIST3D", dimensions=3, task="binary", channels=1, n_samples=(1188, 98, 298),
        licence="CC BY 4.0",
        labels=("normal", "hyperplasia"),
        md5={28: "bbd3c5a5576322bc4cdfea780653b1ce", 64: "17721accfe9fb005146a47d33bc54b2f"},
        source="adrenal-gland shape masks from abdominal CT (Zhongshan Hospital, Fudan University), new in v2",
    ),
    "fracturemnist3d": MedMNISTFacts(
        "FractureMNIST3D", dimensions=3, task="multi-class", channels=1, n_samples=(1027, 103, 240),
        licence="CC BY 4.0",
        labels=("buckle rib fracture", "nondisplaced rib fracture", "displaced rib fracture"),
        md5={28: "6aa7b0143a6b42da40027a9dda61302f", 64: "f01d7e6316aedf4210da0da5b7437b42"},
        source="RibFrac, rib fractures in CT (segmental fractures left out)",
    ),
    "vesselmnist3d": MedMNISTFacts(
        "VesselMNIST3D", dimensions=3, task="binary", channels=1, n_samples=(1335, 191, 382),
        licence="CC BY 4.0",
        labels=("vessel", "aneurysm"),
        md5={28: "b41fd4f7e7e2feedddb201585ecafa1b", 64: "6bb274a8846e1097066dcd64e2c4520f"},
        source="IntrA, intracranial vessel meshes reconstructed from MRA, voxelised",
    ),
    "synapsemnist3d": MedMNISTFacts(
        "SynapseMNIST3D", dimensions=3, task="binary", channels=1, n_samples=(1230, 177, 352),
        licence="CC BY 4.0",
        labels=("inhibitory synapse", "excitatory synapse"),
        md5={28: "1235b78a3cd6280881dd7850a78eadb6", 64: "43bd14ebf3af9d3dd072446fedc14d5e"},
        source="multi-beam scanning electron microscopy of adult rat brain (synapses on one neuron), new in v2",
    ),
}


def medmnist_facts(flag):
    """The ``MedMNISTFacts`` of ``flag`` (e.g. "retinamnist"; case is ignored).

    Raises:
        ValueError: an unknown flag; the message suggests the closest known flags.
    """
    if not isinstance(flag, str):
        raise ValueError(f"A MedMNIST flag is a string such as 'retinamnist', not {flag!r}.")
    name = flag.strip().lower()
    if name in MEDMNIST:
        return MEDMNIST[name]
    base, _, size = name.rpartition("_")
    if base in MEDMNIST and size.isdigit():
        raise ValueError(f"{flag!r} names a flag and an image size together; pass them apart: "
                         f"load_medmnist({base!r}, size={size}).")
    close = difflib.get_close_matches(name, MEDMNIST, n=3, cutoff=0.6)
    hint = ""
    if close:
        quoted = [repr(match) for match in close]
        either = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
        hint = f" Did you mean {either}?"
    raise ValueError(f"Unknown MedMNIST flag {flag!r}.{hint} The MedMNIST v2 flags are: {', '.join(MEDMNIST)}.")


def medmnist_key(flag, size=28):
    """The registry key of ``flag`` at image size ``size``: "retinamnist" for 28, "retinamnist_64" for 64.

    Raises:
        ValueError: an unknown flag, or a size that MedMNIST does not publish for it.
    """
    facts = medmnist_facts(flag)
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or int(size) not in facts.sizes:
        kind = "2D" if facts.dimensions == 2 else "3D"
        raise ValueError(f"{facts.python_class} is not published at size {size!r}; the published sizes of the "
                         f"{kind} sets are {', '.join(map(str, facts.sizes))}. Pass one of them as size=.")
    flag = facts.python_class.lower()
    return flag if int(size) == 28 else f"{flag}_{int(size)}"


def _parse_key(key):
    """(flag, size) of a registry key such as "retinamnist" or "adrenalmnist3d_64"; ValueError if unknown."""
    base, _, size = key.rpartition("_")
    if base in MEDMNIST and size.isdigit():
        flag, size = base, int(size)
    else:
        flag, size = key, 28
    medmnist_key(flag, size)  # validates both
    return flag.lower(), size


def medmnist_registry_entries():
    """One ``DatasetInfo`` per published (flag, size), keyed "retinamnist", "retinamnist_64", ...

    ``default_download`` is True only for ``DEFAULT_DOWNLOADS``, so that ``make data`` fetches the course's
    sets and not all 60 files (tens of gigabytes at 224 pixels).
    """
    # Imported here rather than at the top: registry.py imports this module to merge these entries.
    from common.datasets.registry import DatasetInfo, RemoteFile

    entries = {}
    for flag, facts in MEDMNIST.items():
        for size in facts.sizes:
            key = medmnist_key(flag, size)
            name, url = facts.file_name(size), facts.url(size)
            cube = "x".join([str(size)] * facts.dimensions)
            entries[key] = DatasetInfo(
                key=key,
                title=f"{facts.python_class} {cube} (MedMNIST v2)",
                folder=FOLDER,
                homepage=HOMEPAGE,
                licence=facts.licence,
                citation=(f"{MEDMNIST_CITATION}. Source data: {facts.source}; cite its paper as listed on "
                          f"{HOMEPAGE}."),
                task=facts.task,
                class_names=facts.labels,
                shapes={split: (count, *facts.image_shape(size)) for split, count in zip(SPLITS, facts.n_samples)},
                files=(RemoteFile(name, facts.md5[size], url),),
                # fetch_file already names the URL, the target path and the MD5; add where the file comes from.
                manual_steps=(f"{name} is one file of the MedMNIST v2 record on Zenodo ({ZENODO}); keep its "
                              "official name in {folder}."),
                default_download=key in DEFAULT_DOWNLOADS,
            )
    return entries


@dataclasses.dataclass
class MedMNISTData:
    """The three splits of one MedMNIST file, with where they came from.

    ``splits[split]`` for split "train", "val", "test" is ``(images, labels)``:

    - images: uint8, values 0..255, shape (N, S, S, C) for 2D sets (C = 1 or 3) and (N, S, S, S, 1) for 3D;
    - labels: int64, shape (N,) with the class index for binary, multi-class and ordinal sets, or (N, L) of
      0/1 for a multi-label set (ChestMNIST, L = 14).
    """

    info: object  # the registry's DatasetInfo for this (flag, size)
    splits: dict
    path: Path
    md5: str
    sample: dict | None = None  # the sample-data manifest when these are not the real MedMNIST files

    @property
    def is_sample(self):
        return self.sample is not None

    @property
    def title(self):
        return self.sample["title"] if self.sample else self.info.title

    @property
    def task(self):
        return self.info.task

    @property
    def class_names(self):
        return list(self.info.class_names)


def _registry_entry(info):
    if isinstance(info, str):
        from common.datasets.registry import REGISTRY  # see medmnist_registry_entries

        return REGISTRY[medmnist_key(*_parse_key(info))]
    return info


def load_medmnist_npz(path, info):
    """Read and check one MedMNIST ``.npz`` file against its registry entry.

    Args:
        path: the ``.npz`` file.
        info: its registry entry (``REGISTRY["retinamnist_64"]``), or that entry's key.

    Returns:
        dict split -> (images, labels), as described in ``MedMNISTData``.

    Raises:
        DataError: the file is unreadable, lacks one of the keys ``{train,val,test}_{images,labels}``, holds
            images of another size, dimensionality or dtype, or labels that do not match the images or the
            classes. The message names the file and the fix.
    """
    info = _registry_entry(info)
    path = Path(path)
    flag, size = _parse_key(info.key)
    facts = MEDMNIST[flag]
    replace = f"Replace it with the official {facts.file_name(size)} from {facts.url(size)}."
    expected_keys = [f"{split}_{kind}" for split in SPLITS for kind in ("images", "labels")]
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in expected_keys if key not in archive.files]
            if missing:
                raise DataError(
                    f"{path} lacks the arrays {', '.join(missing)}; it has {', '.join(archive.files) or 'none'}. "
                    f"A MedMNIST file holds {{train,val,test}}_{{images,labels}}, i.e. {', '.join(expected_keys)}. "
                    f"{replace}")
            raw = {key: archive[key] for key in expected_keys}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        if isinstance(error, FileNotFoundError):
            raise DataError(f"{path} does not exist. {replace}") from None
        raise DataError(f"{path} cannot be read as a NumPy .npz file ({error}); it is probably truncated or "
                        f"corrupt. Move it aside and download it again. {replace}") from None
    splits = {}
    for split in SPLITS:
        images = _checked_images(path, facts, size, split, raw[f"{split}_images"], replace)
        labels = _checked_labels(path, facts, split, raw[f"{split}_labels"], len(images), replace)
        splits[split] = (images, labels)
    return splits


def _checked_images(path, facts, size, split, images, replace):
    """Images with a channel axis, after checking dtype and shape against the facts."""
    expected = facts.image_shape(size)
    stored = images.shape[1:]
    key = f"{split}_images"
    if images.dtype != np.uint8:
        raise DataError(f"{path}: '{key}' has dtype {images.dtype}; MedMNIST stores uint8 images (0..255). "
                        f"{replace}")
    # Grey images are stored without a channel axis; accept an explicit one too.
    if stored == expected[:-1] and expected[-1] == 1:
        images = images[..., np.newaxis]
    if images.shape[1:] != expected:
        spatial = stored[:facts.dimensions]
        hint = ""
        if len(set(spatial)) == 1 and len(spatial) == facts.dimensions and spatial[0] in facts.sizes \
                and spatial[0] != size:
            other = spatial[0]
            hint = (f" It looks like the {other}-pixel file {facts.file_name(other)}: if so, give it that name "
                    f"and load it with size={other}.")
        raise DataError(
            f"{path}: '{key}' has shape {images.shape}, but {facts.python_class} at size {size} needs "
            f"(N, {', '.join(map(str, expected))}) ({facts.dimensions}D, {facts.channels} channel(s); grey "
            f"images may omit the channel axis).{hint} {replace}")
    return images


def _checked_labels(path, facts, split, labels, count, replace):
    """Labels as int64 (N,) or (N, L) for multi-label, after checking counts and values."""
    key = f"{split}_labels"
    if facts.task == "multi-label":
        wanted = f"(N, {facts.num_classes}) of 0/1"
        good_shape = labels.ndim == 2 and labels.shape[1] == facts.num_classes
    else:
        wanted = "(N, 1) or (N,) of class indices"
        good_shape = labels.ndim == 1 or (labels.ndim == 2 and labels.shape[1] == 1)
    if not good_shape:
        raise DataError(f"{path}: '{key}' has shape {labels.shape}; {facts.python_class} labels are {wanted}. "
                        f"{replace}")
    if labels.shape[0] != count:
        raise DataError(f"{path}: '{key}' has {labels.shape[0]} labels but '{split}_images' has {count} images; "
                        f"each image needs exactly one label row. The file is inconsistent: {replace}")
    if labels.dtype == bool:
        labels = labels.astype(np.uint8)
    if not np.issubdtype(labels.dtype, np.number) or (
            labels.size and (not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)))):
        raise DataError(f"{path}: '{key}' holds values that are not whole numbers ({labels.dtype}). {replace}")
    high = 1 if facts.task == "multi-label" else facts.num_classes - 1
    if labels.size and (labels.min() < 0 or labels.max() > high):
        raise DataError(f"{path}: '{key}' has values in [{labels.min()}, {labels.max()}], but "
                        f"{facts.python_class} labels lie in [0, {high}] ({facts.num_classes} "
                        f"{'labels' if facts.task == 'multi-label' else 'classes'}). {replace}")
    labels = labels.astype(np.int64)
    return labels if facts.task == "multi-label" else labels.reshape(-1)


def load_medmnist(flag, size=28, data_dir=None, download=True):
    """Load one MedMNIST v2 set from ``data_dir/medmnist/``, downloading its file if it is missing.

    Args:
        flag: the set, e.g. "retinamnist", "chestmnist", "adrenalmnist3d" (see ``MEDMNIST``).
        size: image side in pixels: 28, 64, 128 or 224 for 2D sets; 28 or 64 for 3D sets.
        data_dir: the data root (default ``$DATA_DIR`` or ``data/``), laid out like ``../shared/data``.
        download: allow downloading the file from Zenodo (MD5-checked) when it is missing.

    Returns:
        A ``MedMNISTData``; ``is_sample`` is True when the folder holds the synthetic sample data.

    Raises:
        ValueError: an unknown flag or an unpublished size.
        DataError: the file is missing and cannot be downloaded, has the wrong MD5, or is malformed.
    """
    from common.datasets.registry import REGISTRY  # see medmnist_registry_entries

    info = REGISTRY[medmnist_key(flag, size)]
    data_dir = default_data_dir() if data_dir is None else data_dir
    name = info.files[0].name
    path = fetch_file(info, name, data_dir, download=download)
    sample = read_sample_manifest(path.parent)
    # fetch_file has just verified the file against this MD5, so there is no need to hash it again.
    md5 = sample["md5"][name] if sample else info.files[0].md5
    return MedMNISTData(info=info, splits=load_medmnist_npz(path, info), path=path, md5=md5, sample=sample)


def to_float_images(images):
    """Scale uint8 images (values 0..255, any shape) to float32 in [0, 1] for a Keras model.

    Raises:
        ValueError: the images are not uint8, so their range is unknown (they may be scaled already).
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"to_float_images expects uint8 images as MedMNIST stores them (0..255), not "
                         f"{images.dtype}. If they are already scaled, use them as they are.")
    return images.astype(np.float32) / np.float32(255.0)


# ----------------------------------------------------------------------------------------------------------
# Sample data: synthetic files in the official format.


def _blob(coordinates, centre, sigma):
    """A Gaussian bump of height 1 at ``centre`` (fractions of the image side) on the grid ``coordinates``."""
    squared = sum((axis - position) ** 2 for axis, position in zip(coordinates, centre))
    return np.exp(-squared / (2.0 * sigma**2))


def _synthetic_split(facts, size, count, rng):
    """``count`` synthetic images and labels of ``facts``'s set in its stored form (uint8, official shapes).

    Single-label sets: one bright blob whose place on a ring around the centre depends on the class (for
    ordinal sets it also grows with the grade). Multi-label sets: one blob per positive label, each label at
    its own spot of a grid. In 3D the blobs lie in the middle slice along the first axis, so the central slice
    shows them. A faint noisy background makes the task not entirely trivial.
    """
    dims = facts.dimensions
    axis = (np.arange(size) + 0.5) / size
    coordinates = np.meshgrid(*([axis] * dims), indexing="ij", sparse=True)
    if facts.task == "multi-label":
        labels = (rng.random((count, facts.num_classes)) < 0.3).astype(np.uint8)
        side = int(np.ceil(np.sqrt(facts.num_classes)))
        spots = [((row + 0.5) / side, (column + 0.5) / side) for row in range(side) for column in range(side)]
    else:
        labels = np.arange(count) % facts.num_classes  # every class present, even in tiny splits
        rng.shuffle(labels)
        labels = labels.astype(np.uint8).reshape(count, 1)
    images = np.empty((count,) + (size,) * dims, dtype=np.uint8)
    # The background noise comes in blocks of about 1/14 of the side, so that the files compress well
    # (a 64^3 sample set stays a few megabytes) and the noise has the same scale at every image size.
    block = max(1, size // 14)
    coarse = -(-size // block)
    for index in range(count):
        volume = rng.uniform(20, 60, size=(coarse,) * dims)
        for axis_index in range(dims):
            volume = np.repeat(volume, block, axis=axis_index)
        volume = volume[(slice(0, size),) * dims]
        if facts.task == "multi-label":
            for label in np.flatnonzero(labels[index]):
                centre = np.array((0.5,) * (dims - 2) + spots[label]) + rng.normal(0, 0.01, dims)
                volume += 170 * _blob(coordinates, centre, 0.25 / side)
        else:
            label = int(labels[index, 0])
            angle = 2 * np.pi * label / facts.num_classes
            centre = np.array((0.5,) * (dims - 2) + (0.5 + 0.25 * np.cos(angle), 0.5 + 0.25 * np.sin(angle)))
            centre = centre + rng.normal(0, 0.02, dims)
            grade = label / max(facts.num_classes - 1, 1)
            sigma = 0.06 + 0.05 * grade if facts.task == "ordinal" else 0.08
            volume += 180 * _blob(coordinates, centre, sigma)
        images[index] = np.clip(volume, 0, 255).astype(np.uint8)
    if facts.channels == 3:
        # A reddish tint, as in fundus photographs and stained slides; the channels stay correlated.
        tint = np.array([1.0, 0.6, 0.4])
        images = np.clip(images[..., np.newaxis] * tint, 0, 255).astype(np.uint8)
    return images, labels


def write_medmnist_samples(data_dir=SAMPLES_DIR, flags=DEFAULT_DOWNLOADS, per_split=(60, 20, 20), seed=0):
    """Write synthetic stand-ins for MedMNIST files to ``data_dir/medmnist/`` in the official format.

    Each file has the official name (``retinamnist.npz``, ``adrenalmnist3d_64.npz``, ...), keys, dtypes
    (uint8), image shapes and label layout, so ``load_medmnist`` reads it like the real one. The images carry
    a learnable signal tied to the label (see ``_synthetic_split``), so a small model beats chance on them;
    they look nothing like the real images. A ``SAMPLE_DATA.json`` manifest says so and lists every file's
    MD5; writing more flags into a folder that already holds sample files adds them to its manifest.

    Args:
        data_dir: the sample data root.
        flags: registry keys to write: a flag for size 28 ("retinamnist") or flag_size ("adrenalmnist3d_64").
        per_split: number of images in (train, val, test).
        seed: seed of the random generator; the same seed writes the same files.

    Returns:
        The folder written.
    """
    if isinstance(flags, str):
        flags = (flags,)
    if len(per_split) != 3 or any(int(count) < 1 for count in per_split):
        raise ValueError(f"per_split must be three positive counts (train, val, test), not {per_split!r}.")
    parsed = [_parse_key(key) for key in flags]
    folder = Path(data_dir) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    previous = read_sample_manifest(folder)
    if previous is None and any(folder.glob("*.npz")):
        raise ValueError(f"{folder} already holds .npz files but no {SAMPLE_MANIFEST}: it looks like real "
                         "MedMNIST data. Write the sample data to another folder.")
    names = [name for name in (previous or {}).get("md5", {}) if (folder / name).exists()]
    stands_in_for = (previous or {}).get("stands_in_for", [])
    stands_in_for = [stands_in_for] if isinstance(stands_in_for, str) else list(stands_in_for)
    for flag, size in parsed:
        facts = MEDMNIST[flag]
        # One generator per file, seeded from the key, so a file does not depend on the others written with it.
        key = medmnist_key(flag, size)
        rng = np.random.default_rng([seed, *key.encode()])
        arrays = {}
        for split, count in zip(SPLITS, per_split):
            arrays[f"{split}_images"], arrays[f"{split}_labels"] = _synthetic_split(facts, size, int(count), rng)
        np.savez_compressed(folder / facts.file_name(size), **arrays)
        names = [name for name in names if name != facts.file_name(size)] + [facts.file_name(size)]
        stands_in_for = [name for name in stands_in_for if name != key] + [key]
    _write_manifest(
        folder,
        title="Synthetic MedMNIST-format files (sample data, not MedMNIST)",
        stands_in_for=stands_in_for,
        description=("Computer-generated images in the official MedMNIST .npz format: noise with one bright blob "
                     "whose position (and, for graded sets, size) encodes the class, or one blob per positive "
                     "label for multi-label sets. For demos and tests only: numbers measured on it are not "
                     "MedMNIST results."),
        names=names,
    )
    return folder
