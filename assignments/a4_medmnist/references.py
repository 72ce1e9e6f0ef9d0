"""Published MedMNIST v2 test results, printed beside this run's rows for the same data set.

Source: Yang et al., "MedMNIST v2 - A large-scale lightweight benchmark for 2D and 3D biomedical image
classification", Scientific Data 10, 41 (2023), doi:10.1038/s41597-022-01721-8, Tables of test AUC / ACC.
Rows marked "unconfirmed" were transcribed from a secondary copy and not re-checked against the paper; they
are printed with that mark. "(224)" rows are 28-px images upsampled to 224 px, not MedMNIST+ 224-px data.
"""

SOURCE = ("Yang et al., MedMNIST v2, Scientific Data 10, 41 (2023), doi:10.1038/s41597-022-01721-8; rows marked "
          "unconfirmed were not re-checked against the paper")

_2D_MODELS = ("ResNet-18 (28)", "ResNet-18 (224)", "ResNet-50 (28)", "ResNet-50 (224)", "auto-sklearn", "AutoKeras",
              "Google AutoML Vision")
# (AUC, ACC) per model, in the order of _2D_MODELS.
_2D = {
    "chestmnist": ((0.768, 0.947), (0.773, 0.947), (0.769, 0.947), (0.773, 0.948), (0.649, 0.779), (0.742, 0.937),
                   (0.778, 0.948)),
    "retinamnist": ((0.717, 0.524), (0.710, 0.493), (0.726, 0.528), (0.716, 0.511), (0.690, 0.515), (0.719, 0.503),
                    (0.750, 0.531)),
}
# (model, AUC, ACC, confirmed) per 3D set; every 3D row is for 28^3 volumes.
_3D = {
    "nodulemnist3d": (("ResNet-18 + 2.5D", 0.838, 0.835, False), ("ResNet-18 + 3D", 0.863, 0.844, False),
                      ("ResNet-18 + ACS", 0.873, 0.847, False), ("ResNet-50 + 2.5D", 0.835, 0.848, False),
                      ("ResNet-50 + 3D", 0.875, 0.847, True), ("ResNet-50 + ACS", 0.886, 0.841, False),
                      ("auto-sklearn", 0.914, 0.874, False), ("AutoKeras", 0.844, 0.834, False)),
    "adrenalmnist3d": (("ResNet-18 + 2.5D", 0.718, 0.772, False), ("ResNet-18 + 3D", 0.827, 0.721, False),
                       ("ResNet-18 + ACS", 0.839, 0.754, False), ("ResNet-50 + 2.5D", 0.732, 0.763, False),
                       ("ResNet-50 + 3D", 0.828, 0.745, True), ("ResNet-50 + ACS", 0.818, 0.758, False),
                       ("auto-sklearn", 0.828, 0.802, False), ("AutoKeras", 0.804, 0.705, False)),
}


def published_rows(flag):
    """Rows {model, auc, accuracy, note} for MedMNIST flag ``flag`` (any size), or [] when none are recorded."""
    if flag in _2D:
        return [{"model": model, "auc": auc, "accuracy": accuracy, "note": "published"}
                for model, (auc, accuracy) in zip(_2D_MODELS, _2D[flag])]
    return [{"model": model, "auc": auc, "accuracy": accuracy, "note": "published" if confirmed else "unconfirmed"}
            for model, auc, accuracy, confirmed in _3D.get(flag, ())]
