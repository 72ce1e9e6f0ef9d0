"""The facts of MedMNIST v2's 18 data sets, one entry per set, as ``medmnist``'s own ``info.py`` records them.

MedMNIST v2 (Yang et al., Scientific Data 2023) is 12 two-dimensional and 6 three-dimensional biomedical
classification sets, standardised to small square images. Each set is published on Zenodo as one ``.npz``
file per image size: 28, 64, 128 and 224 pixels for the 2D sets, 28 and 64 voxels for the 3D sets
("MedMNIST+"). This module is only the table (task, labels, channels, split sizes, licence, MD5 per size) and the
naming rules of the files; ``common.datasets.registry`` turns it into registry entries,
``common.datasets.medmnist`` loads the files and ``common.datasets.synthetic_medmnist`` writes sample files
in their format. It imports nothing else of the suite, so every one of those can import it.
"""

import dataclasses
import difflib

import numpy as np

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
DEFAULT_DOWNLOADS = ("retinamnist", "chestmnist", "nodulemnist3d", "adrenalmnist3d", "adrenalmnist3d_64",
                     "pneumoniamnist")


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


def parse_medmnist_key(key):
    """(flag, size) of a registry key such as "retinamnist" or "adrenalmnist3d_64"; ValueError if unknown."""
    base, _, size = key.rpartition("_")
    if base in MEDMNIST and size.isdigit():
        flag, size = base, int(size)
    else:
        flag, size = key, 28
    medmnist_key(flag, size)  # validates both
    return flag.lower(), size
