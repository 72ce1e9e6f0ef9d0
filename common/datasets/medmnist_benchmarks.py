"""Published MedMNIST v2 test results, printed beside a run's rows for the same data set.

Source: Yang et al., "MedMNIST v2 - A large-scale lightweight benchmark for 2D and 3D biomedical image
classification", Scientific Data 10, 41 (2023), doi:10.1038/s41597-022-01721-8, the benchmark tables of test
AUC / ACC. Only rows checked against the paper are kept; rows that had been transcribed from a secondary copy
and could not be checked were dropped. "(224)" rows are 28-px images upsampled to 224 px, not MedMNIST+'s
224-px data; every 3D row is for 28^3 volumes.
"""

SOURCE = "Yang et al., MedMNIST v2, Scientific Data 10, 41 (2023), doi:10.1038/s41597-022-01721-8"

# (model, AUC, ACC) per data set.
PUBLISHED = {
    "chestmnist": (("ResNet-18 (28)", 0.768, 0.947), ("ResNet-18 (224)", 0.773, 0.947),
                   ("ResNet-50 (28)", 0.769, 0.947), ("ResNet-50 (224)", 0.773, 0.948), ("auto-sklearn", 0.649, 0.779),
                   ("AutoKeras", 0.742, 0.937), ("Google AutoML Vision", 0.778, 0.948)),
    "retinamnist": (("ResNet-18 (28)", 0.717, 0.524), ("ResNet-18 (224)", 0.710, 0.493),
                    ("ResNet-50 (28)", 0.726, 0.528), ("ResNet-50 (224)", 0.716, 0.511), ("auto-sklearn", 0.690, 0.515),
                    ("AutoKeras", 0.719, 0.503), ("Google AutoML Vision", 0.750, 0.531)),
    "pneumoniamnist": (("ResNet-18 (28)", 0.944, 0.854), ("ResNet-18 (224)", 0.956, 0.864),
                       ("ResNet-50 (28)", 0.948, 0.854), ("ResNet-50 (224)", 0.962, 0.884),
                       ("auto-sklearn", 0.942, 0.855), ("AutoKeras", 0.947, 0.878),
                       ("Google AutoML Vision", 0.991, 0.946)),
    "breastmnist": (("ResNet-18 (28)", 0.901, 0.863), ("ResNet-50 (224)", 0.866, 0.842),
                    ("Google AutoML Vision", 0.919, 0.861)),
    "nodulemnist3d": (("ResNet-50 + 3D", 0.875, 0.847),),
    "adrenalmnist3d": (("ResNet-50 + 3D", 0.828, 0.745),),
}


def published_rows(flag):
    """Rows {model, auc, accuracy, note} for MedMNIST flag ``flag`` (any size), or [] when none are recorded."""
    return [{"model": model, "auc": auc, "accuracy": accuracy, "note": "published"}
            for model, auc, accuracy in PUBLISHED.get(flag, ())]
