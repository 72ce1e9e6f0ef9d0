"""``python -m common.datasets {list,download}``: the registry's data sets and their download (``make data``).

    python -m common.datasets list                 every registered data set, its folder and licence
    python -m common.datasets download [KEY ...]   download (and checksum) the named data sets, or with no
                                                   KEY the course's default ones (`make data`); for files
                                                   without a URL, print how to obtain them by hand

Files go to ``$DATA_DIR/<folder>/`` (default: ``data/`` in the repository).
"""

import argparse
import difflib
import sys
from pathlib import Path

from common.config import default_data_dir
from common.datasets.download import fetch_file
from common.datasets.files import DataError
from common.datasets.registry import REGISTRY


def download(keys, data_dir):
    """Fetch every file of the given registry entries; returns the number of files that failed."""
    failures = 0
    for key in keys:
        info = REGISTRY[key]
        folder = Path(data_dir) / info.folder
        print(f"{key}: {info.title} -> {folder}/", flush=True)
        if not info.files:
            if folder.is_dir() and any(folder.iterdir()):
                print(f"  ok  {folder} is present (placed by hand)")
            else:
                print(f"  --  {folder} is missing; it is obtained by hand: {info.manual_steps.format(folder=folder)}")
            continue
        for remote in info.files:
            if remote.url is None and not (folder / remote.name).exists():
                # Optional files that need a login are not failures of `make data`.
                print(f"  --  {remote.name} is obtained by hand: {info.manual_steps.format(folder=folder)}")
                continue
            try:
                path = fetch_file(info, remote.name, data_dir, download=True)
                print(f"  ok  {path} (MD5 {remote.md5})")
            except DataError as error:
                failures += 1
                print(f"  --  {error}", file=sys.stderr)
    return failures


def default_keys():
    """The registry keys that `make data` (``download`` with no keys) fetches: those marked default_download."""
    return [key for key, info in REGISTRY.items() if info.default_download]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m common.datasets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=default_data_dir(), help="data root (default: $DATA_DIR or data/)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list")
    fetch = commands.add_parser("download")
    defaults = default_keys()
    fetch.add_argument("keys", nargs="*", help=f"registry keys (default: {', '.join(defaults)}; "
                                               "`list` shows all)")
    options = parser.parse_args(argv)
    if options.command == "list":
        print(f"{'key':<20} {'folder':<18} {'obtained':<9} {'make data':<10} {'licence':<22} title")
        for key, info in REGISTRY.items():
            automatic = bool(info.files) and all(remote.url for remote in info.files)
            print(f"{key:<20} {info.folder + '/':<18} {'download' if automatic else 'by hand':<9} "
                  f"{'yes' if info.default_download else 'if named':<10} {info.licence:<22} {info.title}")
        return 0
    unknown = [key for key in options.keys if key not in REGISTRY]
    if unknown:
        hints = [f"{key} (did you mean {', '.join(close)}?)" if (close := difflib.get_close_matches(key, REGISTRY))
                 else key for key in unknown]
        parser.error(f"unknown data set(s) {'; '.join(hints)}. `python -m common.datasets list` shows every key.")
    failures = download(options.keys or defaults, options.data_dir)
    if failures:
        print(f"\n{failures} file(s) could not be obtained; see the steps above. Files that are present "
              "were verified and left as they are.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
