"""Model builders shared by the assignments: pure functions ``build_*(input_shape, num_classes, ...) ->
keras.Model`` that never read files. Every builder takes the spatial rank from ``input_shape``, so the same
code builds 2D (H, W, C) and 3D (D, H, W, C) networks where that makes sense."""
