"""Command line of assignment 2.

    python -m assignments.a2_spect_staging [--smoke] [--data PATH] ...   cross-validate, choose, test, report

The configuration is parsed before TensorFlow is imported, so ``--help`` and bad flags answer at once.
The last line a run prints is its run folder.
"""

import sys

from common.config import parse_config

from .config import SMOKE, A2Config


def main(argv=None):
    config = parse_config(A2Config, argv, prog=__package__, smoke=SMOKE,
                          description=sys.modules[__package__].__doc__ or "")
    from common.cli import run_and_print_folder

    return run_and_print_folder(f"{__package__}.train", config)


if __name__ == "__main__":
    sys.exit(main())
