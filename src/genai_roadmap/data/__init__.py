"""Datasets: the registry (what exists, with checksums), the store (where a file is found), and loaders."""

from .registry import DATASETS, DataFile, Dataset, Variant, get_dataset
from .store import resolve_variant, verify_dataset

__all__ = ["DATASETS", "Dataset", "DataFile", "Variant", "get_dataset", "resolve_variant", "verify_dataset"]
