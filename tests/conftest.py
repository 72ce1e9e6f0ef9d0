"""Shared fixtures. Importing ``common`` first keeps TensorFlow's start-up quiet in test output."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import common.tf_setup  # noqa: E402,F401  (before anything imports TensorFlow)

common.tf_setup.import_tensorflow_quietly()

import pytest  # noqa: E402

from common.datasets.samples import write_usps_samples  # noqa: E402


@pytest.fixture(scope="session")
def usps_sample_root(tmp_path_factory):
    """A data root holding the USPS stand-in sample files (usps/zip.*.gz, usps/usps.h5)."""
    root = tmp_path_factory.mktemp("usps_samples")
    write_usps_samples(root)
    return root
