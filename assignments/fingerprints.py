"""Fingerprints of the official test labels, for the grader only (left out of the student release).

Each is ``common.rerun.label_fingerprint`` of the labels as the suite's loaders read them, in file order:
SHA-256 over the shape and the int64 values, with their number. A submission's saved test labels must hash to
these, so labels written by hand (or taken from another split) fail the "official labels" item even where the
grader has no data to re-run the models on. Recompute one from the official files, e.g.::

    python -c "from common.datasets.usps import load_usps; from common.rerun import label_fingerprint; \
        print(label_fingerprint(load_usps('$DATA_DIR', download=False).y_test))"
"""

from common.rerun import Fingerprint

USPS_TEST = Fingerprint("e2ff46e27d021215618131576d2468e3f0a7f44a9059950194ecddc60187ac3d", 2007,
                        "USPS zip.test.gz (Hastie, Tibshirani and Friedman)")
RETINAMNIST_TEST = Fingerprint("3ece11d9902ab06d35f92d0947a02be336b4e18a6506aedf180468bd9e087217", 400,
                               "MedMNIST v2 RetinaMNIST test_labels")
# The 28 and 64 px files of AdrenalMNIST3D hold the same cases in the same order.
ADRENALMNIST3D_TEST = Fingerprint("ebb791a9bd30ae0a53de5f626010b4d47af44346eb384f40f43e1dd114dbe926", 298,
                                  "MedMNIST v2 AdrenalMNIST3D test_labels")
BRAIN_TUMOR_MRI_TEST = Fingerprint("98b06a0a2066b7ed5795330315e1fa79e7de7f9fc5234abe0f30d0f8d1ee6eae", 1311,
                                   "Kaggle Brain Tumor MRI Testing/ (classes and file names in sorted order)")
# The 624 images of the Kermany et al. test folder, as every size of PneumoniaMNIST (and the course's reduced
# training file, which keeps the official test split) holds them.
PNEUMONIAMNIST_TEST = Fingerprint("2242b0cd6dca5dc47f0c76efa9697b833b7b7ed4274bd4942f4fd451e0df927e", 624,
                                  "MedMNIST v2 PneumoniaMNIST test_labels")

# MedMNIST registry key -> fingerprint of its official test labels (the sets the suite was measured on).
MEDMNIST_TEST = {"retinamnist": RETINAMNIST_TEST, "adrenalmnist3d": ADRENALMNIST3D_TEST,
                 "adrenalmnist3d_64": ADRENALMNIST3D_TEST}
