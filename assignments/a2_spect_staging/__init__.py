"""Assignment 2: Parkinson's-disease staging from DaTscan SPECT images, comparing five models and two ways of
handling class imbalance by cross-validation.

Read the images (PNG, DICOM, NIfTI; volumes are reduced to the mean of the striatal slices), locate the
striatum and crop around it, normalise intensities (per image and dataset-wide, compared), then compare a
compact VGG16, a small ResNet, a small ViT and ImageNet VGG16 / ResNet50 transfer learning, each with random
oversampling and with a class-weighted loss, by stratified k-fold cross-validation on the training cases. The
best pair is retrained and evaluated once on the held-out test cases, beside majority-class and chance baselines.

Run:  python -m assignments.a2_spect_staging                        (synthetic DaTscan-like phantoms, made offline)
      python -m assignments.a2_spect_staging --data /path/to/images (your root/<stage>/*.png, or a CSV path,label)
      python -m assignments.a2_spect_staging --smoke                (under a minute, for make demo)
      python -m assignments.a2_spect_staging --help
"""
