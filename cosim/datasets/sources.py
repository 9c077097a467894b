"""Where each data set comes from: mirrors, file names, published checksums, class names.

Facts only; the mechanism is in ``download`` and ``loaders``. Each checksum cites where it is
published. The copies in ``shared/datasets`` are described by their ``VERIFY.txt``: some
``.gz`` files there were re-compressed, so only their content checksum matches (which
``download.check_file`` accepts).
"""

from __future__ import annotations

from dataclasses import dataclass

from cosim.datasets import cifar
from cosim.datasets.download import RemoteFile, md5
from cosim.datasets.mnist_sample import DIGIT_NAMES


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """The files of one data set and where to fetch them."""

    folder: str  # sub-folder of the data dir the loader reads
    files: tuple[RemoteFile, ...]  # what the loader reads, with checksums (for verify=True)
    mirrors: tuple[str, ...]  # base URLs, tried in order
    downloads: tuple[RemoteFile, ...]  # what is fetched from each mirror
    download_folder: str  # sub-folder of the data dir the downloads go to ("" = the data dir)
    class_names: tuple[str, ...]

    def file(self, name: str) -> RemoteFile:
        for remote in self.files:
            if remote.name == name:
                return remote
        raise KeyError(name)


def _idx_files(published: dict[str, tuple[str, str]]) -> tuple[RemoteFile, ...]:
    return tuple(RemoteFile(name=name, checksum=md5(gz), content_checksum=md5(raw))
                 for name, (gz, raw) in published.items())


# MNIST (LeCun, Cortes, Burges). The .gz MD5s are those every major loader checks (torchvision's
# MNIST.resources, TensorFlow Datasets); the MD5s of the uncompressed files are those listed by
# e.g. secml's MNIST loader and recorded in shared/datasets/mnist/VERIFY.txt.
_MNIST_FILES = _idx_files({
    "train-images-idx3-ubyte.gz": ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte.gz": ("d53e105ee54ea40749a09fcbcd1e9432", "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte.gz": ("9fb629c4189551a2d022fa330f9573f3", "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte.gz": ("ec29112dd5afa0611ce80d1b7f02629c", "27ae3e4e09519cfbb04c329615203637"),
})
MNIST = Source(
    folder="mnist", files=_MNIST_FILES, downloads=_MNIST_FILES, download_folder="mnist",
    # The original host often refuses automated downloads, so the mirrors that torchvision and
    # TensorFlow use come first.
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
             "https://storage.googleapis.com/cvdf-datasets/mnist/",
             "http://yann.lecun.com/exdb/mnist/"),
    class_names=DIGIT_NAMES,
)

# Fashion-MNIST (Xiao, Rasul, Vollgraf 2017). The .gz MD5s are the table in the README of
# github.com/zalandoresearch/fashion-mnist; the MD5s of the uncompressed files are those listed
# by torchvision-based loaders and recorded in shared/datasets/fashion-mnist/VERIFY.txt.
_FASHION_FILES = _idx_files({
    "train-images-idx3-ubyte.gz": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
    "train-labels-idx1-ubyte.gz": ("25c81989df183df01b3e8a0aad5dffbe", "9018921c3c673c538a1fc5bad174d6f9"),
    "t10k-images-idx3-ubyte.gz": ("bef4ecab320f06d8554ea6380940ec79", "8181f5470baa50b63fa0f6fddb340f0a"),
    "t10k-labels-idx1-ubyte.gz": ("bb300cfdad3c16e7a12a480ee83cd310", "15d484375f8d13e6eb1aabb0c3f46965"),
})
FASHION_MNIST = Source(
    folder="fashion-mnist", files=_FASHION_FILES, downloads=_FASHION_FILES,
    download_folder="fashion-mnist",
    # The README's download links, then the same files in the repository's data/fashion folder.
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
             "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
    # Label descriptions from the README's "Labels" table.
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"),
)

# CIFAR-10 (Krizhevsky 2009). The archive MD5 is published on
# https://www.cs.toronto.edu/~kriz/cifar.html; the MD5s of the files inside are those
# torchvision's CIFAR10 checks (train_list, test_list, meta).
CIFAR10 = Source(
    folder=cifar.FOLDER,
    files=(
        RemoteFile(name="data_batch_1", checksum=md5("c99cafc152244af753f735de768cd75f")),
        RemoteFile(name="data_batch_2", checksum=md5("d4bba439e000b95fd0a9bffe97cbabec")),
        RemoteFile(name="data_batch_3", checksum=md5("54ebc095f3ab1f0389bbae665268c751")),
        RemoteFile(name="data_batch_4", checksum=md5("634d18415352ddfa80567beed471001a")),
        RemoteFile(name="data_batch_5", checksum=md5("482c414d41f54cd18b22e5b47cb7c3cb")),
        RemoteFile(name="test_batch", checksum=md5("40351d587109b95175f43aff81a1287e")),
        RemoteFile(name="batches.meta", checksum=md5("5ff9c542aee3614f3951f8cda6e48888")),
    ),
    mirrors=("https://www.cs.toronto.edu/~kriz/",),
    downloads=(RemoteFile(name=cifar.ARCHIVE, checksum=md5("c58f30108f718f92721af3b95e74349a")),),
    download_folder="",
    # Read from batches.meta when loading; this copy serves before the files are there.
    class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                 "truck"),
)
