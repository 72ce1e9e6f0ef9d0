"""Data sets: the registry of public data sets, checksum-verified downloads, loaders and sample data."""

from common.datasets.download import DataError, fetch_file
from common.datasets.registry import REGISTRY, DatasetInfo, RemoteFile

__all__ = ["REGISTRY", "DataError", "DatasetInfo", "RemoteFile", "fetch_file"]
