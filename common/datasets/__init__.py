"""Data sets: the registry of public data sets, checksum-verified downloads, loaders and sample data."""

from common.datasets.download import fetch_file
from common.datasets.files import DataError
from common.datasets.registry import REGISTRY, DatasetInfo, RemoteFile

__all__ = ["REGISTRY", "DataError", "DatasetInfo", "RemoteFile", "fetch_file"]
