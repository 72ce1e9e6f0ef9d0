"""Assignment 7: CheXNet, a DenseNet-121 that reads chest X-rays for pneumonia, with its heat maps.

Train CheXNet's DenseNet-121 (Rajpurkar et al. 2017) and a compact DenseNet baseline with CheXNet's weighted
binary cross-entropy on paediatric chest X-rays (PneumoniaMNIST, or the Kermany et al. folders), choose the
decision threshold and the model on validation, report the test AUC with its 95% bootstrap interval, F1,
sensitivity and specificity, and show where the network looks with CAM and Grad-CAM.

Run:  python -m assignments.a7_chexnet                        (PneumoniaMNIST from DATA_DIR/medmnist, downloaded)
      python -m assignments.a7_chexnet --npz FILE.npz         (your own PneumoniaMNIST-format file)
      python -m assignments.a7_chexnet --data chest_xray/     (the Kermany folders, split by patient)
      python -m assignments.a7_chexnet --smoke                (a short run on a synthetic file)
      python -m assignments.a7_chexnet --help
"""
