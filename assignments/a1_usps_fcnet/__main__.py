"""Command line of assignment 1: ``python -m assignments.a1_usps_fcnet [--smoke] [--epochs N] ...``.

The configuration is parsed before TensorFlow is imported, so ``--help`` and bad flags answer at once.
The last line printed is the run folder.
"""

import sys

from common.config import parse_config

from .config import SMOKE, A1Config


def main(argv=None):
    config = parse_config(A1Config, argv, prog=__package__, smoke=SMOKE,
                          description=(__package__ and sys.modules[__package__].__doc__) or "")
    from common.cli import run_and_print_folder

    return run_and_print_folder(f"{__package__}.train", config)


if __name__ == "__main__":
    sys.exit(main())
