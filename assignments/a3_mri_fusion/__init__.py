"""Assignment 3: 3D MRI tumour detection, comparing four ways to classify a volume.

Load volumes (NIfTI, DICOM series, or a MedMNIST 3D set), adjust contrast, normalise and resample them
trilinearly to one shape, then train and compare on the same split: a 2D network on a single slice, late fusion
(a shared 2D network on every slice, features pooled), early fusion (slices stacked as channels) and a 3D
ResNet. The best is chosen on validation; every approach is evaluated once on test and explained with Grad-CAM.

Run:  python -m assignments.a3_mri_fusion                          (synthetic stand-in volumes, made offline)
      python -m assignments.a3_mri_fusion --dataset adrenalmnist3d_64 (real MedMNIST volumes from DATA_DIR)
      python -m assignments.a3_mri_fusion --data /path/to/volumes  (your root/<class>/<case>.nii.gz or DICOM)
      python -m assignments.a3_mri_fusion --smoke                  (about a minute, for make demo)
      python -m assignments.a3_mri_fusion view CASE                (the three anatomical planes of one volume)
"""
