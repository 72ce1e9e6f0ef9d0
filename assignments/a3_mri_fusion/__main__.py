"""Command line of assignment 3.

    python -m assignments.a3_mri_fusion [--smoke] [--data ...] ...     train, compare, report
    python -m assignments.a3_mri_fusion view CASE [--out planes.png]   axial, coronal and sagittal planes

The configuration is parsed before TensorFlow is imported, so ``--help`` and bad flags answer at once.
The last line a training run prints is its run folder.
"""

import argparse
import sys

from common.config import parse_config

from .config import SMOKE, A3Config


def view(argv):
    """Show or save the three anatomical planes of one volume (NIfTI file or DICOM series folder)."""
    parser = argparse.ArgumentParser(prog=f"{__package__} view", description=view.__doc__)
    parser.add_argument("case", help="a .nii / .nii.gz file or a folder holding one DICOM series")
    parser.add_argument("--out", help="PNG to write (default: <case name>_planes.png in the current folder)")
    parser.add_argument("--point", help="voxel x,y,z the planes go through (default: the centre)")
    parser.add_argument("--interactive", action="store_true", help="open a window with sliders (needs a display)")
    options = parser.parse_args(argv)
    from pathlib import Path

    from common.datasets.files import DataError
    from common.datasets.volumes import load_volume
    from common.planes import display_available, plot_planes, show_planes_interactive

    try:
        volume = load_volume(options.case)
        point = tuple(int(value) for value in options.point.split(",")) if options.point else None
        if options.interactive:
            if not display_available():
                print("error: --interactive needs a display; use --out to save a PNG instead.", file=sys.stderr)
                return 1
            show_planes_interactive(volume)
            return 0
        name = Path(options.case.rstrip("/")).name.split(".")[0]
        out = Path(options.out or f"{name}_planes.png")
        if out.exists():
            print(f"error: {out} exists; it was left as it is. Pass another --out.", file=sys.stderr)
            return 1
        plot_planes(volume, point=point, path=out, title=f"{name}: {volume.shape} voxels")
    except (DataError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(out)
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "view":
        return view(argv[1:])
    config = parse_config(A3Config, argv, prog=__package__, smoke=SMOKE,
                          description=sys.modules[__package__].__doc__ or "")
    from common.cli import run_and_print_folder

    return run_and_print_folder(f"{__package__}.train", config)


if __name__ == "__main__":
    sys.exit(main())
