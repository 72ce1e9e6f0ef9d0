"""Assignment 5: a 4-class CNN for brain-tumour MRI (glioma, meningioma, no tumour, pituitary).

Train a CNN from scratch on the Kaggle Brain Tumor MRI Dataset, check the data for duplicates that leak
from the training into the test split, evaluate on the official and on a de-duplicated test set, explain
predictions with Grad-CAM, save the model and use it to predict new scans.

Run:  python -m assignments.a5_brain_tumor_cnn                    (real data in DATA_DIR/brain_tumor_mri)
      python -m assignments.a5_brain_tumor_cnn --smoke            (a short run on synthetic slices)
      python -m assignments.a5_brain_tumor_cnn predict scan.jpg   (classify new scans with a trained model)
      python -m assignments.a5_brain_tumor_cnn --help
"""
