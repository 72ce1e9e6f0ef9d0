"""Command line of assignment 7.

    python -m assignments.a7_chexnet [--smoke] [--npz FILE] [--epochs N] ...   train, evaluate, report
    python -m assignments.a7_chexnet predict FOLDER [...] [--run RUN]          score labelled X-ray folders

The configuration is parsed before TensorFlow is imported, so ``--help`` and bad flags answer at once.
The last line a training run prints is its run folder.
"""

import sys

from common.config import parse_config

from .config import SMOKE, A7Config


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "predict":
        from .predict import main as predict_main

        return predict_main(argv[1:])
    config = parse_config(A7Config, argv, prog=__package__, smoke=SMOKE,
                          description=sys.modules[__package__].__doc__ or "")
    from common.cli import run_and_print_folder

    return run_and_print_folder(f"{__package__}.train", config)


if __name__ == "__main__":
    sys.exit(main())
