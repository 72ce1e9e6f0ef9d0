"""Assignment 6: segmentation with U-Net and Attention U-Net.

Segment the cell membranes of serial-section electron micrographs (the ISBI 2012 challenge, the data set of
the U-Net paper), or hippocampus volumes in 3D MRI (the Medical Segmentation Decathlon's Task04), or your own
images and masks: train a U-Net and an Attention U-Net with the same depth and widths on a contiguous split,
predict whole images by overlap-tiling, and compare Dice, IoU, pixel error and (for ISBI) the adapted Rand
error with the attention maps and the error of every test slice in view.

Run:  python -m assignments.a6_segmentation                          (ISBI 2012 slices in DATA_DIR/isbi2012_em)
      python -m assignments.a6_segmentation --smoke                  (a short run on synthetic EM slices)
      python -m assignments.a6_segmentation --dataset sample3d --smoke  (the 3D path on synthetic volumes)
      python -m assignments.a6_segmentation evaluate RUN --data PATH (a trained run's models on new images)
      python -m assignments.a6_segmentation --help
"""
