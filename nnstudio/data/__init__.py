"""Datasets for NN Studio: built-in sets, the user's own data, downloads, augmentation, drawing input.

Everything here returns host NumPy arrays and imports no Qt; see :mod:`nnstudio.data.registry` for the
names and :class:`nnstudio.data.dataset.Dataset` for the shapes.
"""
from nnstudio.data.dataset import Dataset, DatasetInfo
from nnstudio.data.registry import clear_cache, dataset_info, get_dataset, list_datasets

__all__ = ["Dataset", "DatasetInfo", "clear_cache", "dataset_info", "get_dataset", "list_datasets"]
