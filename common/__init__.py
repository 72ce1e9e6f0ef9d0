"""Shared code for the medical-imaging deep-learning course suite.

Every assignment imports its data loaders, trainer, evaluator, reports and plots from here, so that a
student's copy of one assignment folder keeps working as long as ``common`` is importable.

Importing this package quietens TensorFlow's start-up logging (see ``common.tf_setup``) before
TensorFlow itself is imported anywhere.
"""

from common.tf_setup import configure_tensorflow_logging

configure_tensorflow_logging()
