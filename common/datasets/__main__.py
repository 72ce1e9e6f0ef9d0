"""``python -m common.datasets {list,download}``: the registry's data sets and their download (``make data``).

    python -m common.datasets list                 every registered data set, its folder and licence
    python -m common.datasets download [KEY ...]   download (and checksum) every file that has a URL;
                                                   for the others, print how to obtain them by hand

Files go to ``$DATA_DIR/<folder>/`` (default: ``data/`` in the repository).
"""

import argparse
import sys

from common.config import default_data_dir
from common.datasets.download import DataError, fetch_file
from common.datasets.registry import REGISTRY


def download(keys, data_dir):
    """Fetch every file of the given registry entries; returns the number of files that failed."""
    failures = 0
    for key in keys:
        info = REGISTRY[key]
        print(f"{key}: {info.title} -> {data_dir}/{info.folder}/", flush=True)
        for remote in info.files:
            try:
                path = fetch_file(info, remote.name, data_dir, download=True)
                print(f"  ok  {path} (MD5 {remote.md5})")
            except DataError as error:
                failures += 1
                print(f"  --  {error}", file=sys.stderr)
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m common.datasets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=default_data_dir(), help="data root (default: $DATA_DIR or data/)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list")
    fetch = commands.add_parser("download")
    fetch.add_argument("keys", nargs="*", help=f"registry keys (default: all of {', '.join(REGISTRY)})")
    options = parser.parse_args(argv)
    if options.command == "list":
        for key, info in REGISTRY.items():
            automatic = all(remote.url for remote in info.files)
            print(f"{key:<10} {info.folder + '/':<18} {'download' if automatic else 'by hand':<9} "
                  f"{info.licence:<22} {info.title}")
        return 0
    unknown = [key for key in options.keys if key not in REGISTRY]
    if unknown:
        parser.error(f"unknown data set(s) {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
    failures = download(options.keys or list(REGISTRY), options.data_dir)
    if failures:
        print(f"\n{failures} file(s) could not be obtained; see the steps above. Files that are present "
              "were verified and left as they are.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
