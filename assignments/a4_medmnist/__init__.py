"""Assignment 4: MedMNIST v2, from a 3D CNN to a quantized 2D model.

Problem 1 trains a 3D CNN from scratch on a MedMNIST 3D set (AdrenalMNIST3D by default), with and without 3D
augmentation. Problem 2, on a 2D set (RetinaMNIST by default; ChestMNIST is multi-label), trains a deeper
custom CNN with and without augmentation, compares VGG16 transfer learning with a frozen and a partly
fine-tuned backbone, explains both with Grad-CAM, and quantizes the custom CNN for LiteRT (dynamic range,
float16, full int8, quantization-aware training). Problem 3 trains a ResNet from scratch with a small-input
stem. Every result is printed beside the published MedMNIST v2 numbers for the same data set.

Run:  python -m assignments.a4_medmnist                       (real data: DATA_DIR/medmnist, downloaded if missing)
      python -m assignments.a4_medmnist --problems 1 --volume-size 64
      python -m assignments.a4_medmnist --problems 2,3 --image-dataset chestmnist
      python -m assignments.a4_medmnist --smoke               (the synthetic sample files, about a minute)
      python -m assignments.a4_medmnist --help
"""
