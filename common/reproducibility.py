"""One seed for every random number generator a run touches."""

import random

import numpy as np

from common.tf_setup import import_tensorflow_quietly


def set_seed(seed, deterministic=True):
    """Seed Python, NumPy, TensorFlow and Keras, and (by default) make TensorFlow ops deterministic.

    With ``deterministic=True`` the same seed on the same machine and software gives the same weights
    and metrics, at some cost in speed on GPUs (see ``tf.config.experimental.enable_op_determinism``).
    """
    tf = import_tensorflow_quietly()
    import keras

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
