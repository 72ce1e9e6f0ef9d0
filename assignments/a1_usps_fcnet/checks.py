"""Checks of the parts of assignment 1 a student writes (``make check ASSIGNMENT=1``): the fully-connected
network (``model.build_fc_net``) and its search space (``config.A1Config.search_space``). About ten seconds."""

import numpy as np

from common.checks import assert_learns, assert_parameters, toy_classes

from .config import A1Config
from .model import build_fc_net


def search_space_from_the_options():
    """Search space: the four hyper-parameters, with the options of the configuration."""
    config = A1Config(hidden_units_options=("64x32", "128x64"), dropout_options=(0.2, 0.4),
                      learning_rate_options=(1e-3,), batch_size_options=(32, 64))
    space = config.search_space()
    assert isinstance(space, dict), f"search_space() returned {type(space).__name__}, not a dict"
    assert set(space) == {"hidden_units", "dropout_rate", "learning_rate", "batch_size"}, \
        f"search_space() has the keys {sorted(space)}"
    assert tuple(map(tuple, space["hidden_units"])) == ((64, 32), (128, 64)), \
        f"hidden_units should be the parsed widths ((64, 32), (128, 64)), got {space['hidden_units']}"
    assert tuple(space["dropout_rate"]) == (0.2, 0.4) and tuple(space["batch_size"]) == (32, 64), \
        "dropout_rate and batch_size should be the configured options"


def fc_net_shapes_and_probabilities():
    """FC network: (N, 16, 16, 1) images in, (N, 10) probabilities out."""
    model = build_fc_net((16, 16, 1), 10, hidden_units=(64, 32), dropout_rate=0.3, augment=False)
    scores = np.asarray(model(np.random.default_rng(0).random((5, 16, 16, 1), dtype=np.float32)))
    assert scores.shape == (5, 10), f"output shape {scores.shape}, expected (5, 10)"
    assert np.allclose(scores.sum(axis=1), 1.0, atol=1e-5) and scores.min() >= 0, \
        "the outputs are not probabilities: end with a softmax layer"


def fc_net_parameter_count():
    """FC network: 256-512-256-10 has 265,482 parameters (weights and biases of three Dense layers)."""
    model = build_fc_net((16, 16, 1), 10, hidden_units=(512, 256), dropout_rate=0.3, augment=False)
    assert_parameters(model, 265_482, 265_482, "the 512-256 network")
    dropouts = [layer for layer in model.layers if type(layer).__name__ == "Dropout"]
    assert len(dropouts) == 2, f"expected a Dropout layer after each hidden layer, found {len(dropouts)}"


def fc_net_learns_a_toy_set():
    """FC network: learns a trivially separable toy set."""
    x, y = toy_classes((16, 16, 1))
    assert_learns(build_fc_net((16, 16, 1), 2, hidden_units=(32, 16), dropout_rate=0.0, augment=False), x, y)


CHECKS = (search_space_from_the_options, fc_net_shapes_and_probabilities, fc_net_parameter_count,
          fc_net_learns_a_toy_set)
