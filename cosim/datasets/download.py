"""Download with checksums: mirrors tried in order, nothing half-written left behind.

A file is streamed into a temporary file in its destination folder, its checksum checked, then
renamed into place (``os.replace`` is atomic within a folder): a reader never sees a partial or
unverified file under the real name.
"""

from __future__ import annotations

import enum
import gzip
import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cosim.datasets.mnist_sample import DatasetError

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
_USER_AGENT = "rramcosim-datasets/1"  # some hosts refuse urllib's default agent


class HashAlgorithm(enum.Enum):
    MD5 = "md5"
    SHA256 = "sha256"


@dataclass(frozen=True, slots=True, kw_only=True)
class Checksum:
    """A published digest of a file."""

    algorithm: HashAlgorithm
    digest: str  # lower-case hex

    def __post_init__(self) -> None:
        size = hashlib.new(self.algorithm.value).digest_size * 2
        if len(self.digest) != size or any(c not in "0123456789abcdef" for c in self.digest):
            raise ValueError(f"{self.algorithm.value} digest must be {size} lower-case hex digits, "
                             f"got {self.digest!r}")

    def new(self) -> Any:
        """A fresh hash object of this algorithm."""
        return hashlib.new(self.algorithm.value, usedforsecurity=False)

    def __str__(self) -> str:
        return f"{self.algorithm.value} {self.digest}"


def md5(digest: str) -> Checksum:
    return Checksum(algorithm=HashAlgorithm.MD5, digest=digest)


def sha256(digest: str) -> Checksum:
    return Checksum(algorithm=HashAlgorithm.SHA256, digest=digest)


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteFile:
    """A file of a data set: its name (locally and at each mirror) and published checksums."""

    name: str
    checksum: Checksum  # of the file as served
    content_checksum: Checksum | None = None  # of the gunzipped content, where published

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or "\\" in self.name or self.name in (".", ".."):
            raise ValueError(f"file name must be a plain name, got {self.name!r}")


class Verdict(enum.Enum):
    FILE = "checksum of the file matches"
    CONTENT = "checksum of the uncompressed content matches (the gzip wrapper differs)"
    MISMATCH = "checksum does not match"
    MISSING = "missing"


@dataclass(frozen=True, slots=True, kw_only=True)
class FileCheck:
    """The outcome of checking one local file against its published checksums."""

    path: Path
    verdict: Verdict
    detail: str  # digests found, for the report

    @property
    def ok(self) -> bool:
        return self.verdict in (Verdict.FILE, Verdict.CONTENT)


def file_digest(path: Path, checksum: Checksum, *, gunzip: bool = False) -> str:
    """Hex digest of ``path`` (of its gunzipped content when ``gunzip``), streamed."""
    hasher = checksum.new()
    try:
        with (gzip.open(path, "rb") if gunzip else open(path, "rb")) as fh:
            while chunk := fh.read(_CHUNK):
                hasher.update(chunk)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: cannot read{' as gzip' if gunzip else ''} ({exc})") from None
    return hasher.hexdigest()


def check_file(path: Path, remote: RemoteFile) -> FileCheck:
    """Check ``path`` against the published checksum of the file, else of its content.

    A re-compressed ``.gz`` whose content is exact passes on the content checksum.
    """
    if not path.is_file():
        return FileCheck(path=path, verdict=Verdict.MISSING, detail="no such file")
    found = file_digest(path, remote.checksum)
    if found == remote.checksum.digest:
        return FileCheck(path=path, verdict=Verdict.FILE, detail=str(remote.checksum))
    detail = f"file {remote.checksum.algorithm.value} {found}, published {remote.checksum.digest}"
    if remote.content_checksum is not None:
        try:
            content = file_digest(path, remote.content_checksum, gunzip=True)
        except DatasetError as exc:
            return FileCheck(path=path, verdict=Verdict.MISMATCH, detail=f"{detail}; {exc}")
        if content == remote.content_checksum.digest:
            return FileCheck(path=path, verdict=Verdict.CONTENT,
                             detail=f"{detail}; content {remote.content_checksum}")
        detail += f"; content {content}, published {remote.content_checksum.digest}"
    return FileCheck(path=path, verdict=Verdict.MISMATCH, detail=detail)


def _fetch(url: str, dest: Path, checksum: Checksum, timeout: float) -> None:
    """Stream ``url`` into a temporary file beside ``dest``, check it, rename it into place."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise DatasetError(f"{url}: only http and https URLs are downloaded")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        hasher = checksum.new()
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            while chunk := response.read(_CHUNK):
                hasher.update(chunk)
                out.write(chunk)
        if hasher.hexdigest() != checksum.digest:
            raise DatasetError(f"checksum mismatch: {checksum.algorithm.value} {hasher.hexdigest()}, "
                               f"expected {checksum.digest}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def download_file(urls: Sequence[str], dest: str | os.PathLike[str], checksum: Checksum, *,
                  timeout: float = 60.0) -> Path:
    """Download ``dest`` from the first of ``urls`` that serves it with the right checksum.

    Raises ``DatasetError`` listing every URL tried and why it failed.
    """
    dest = Path(dest)
    if not urls:
        raise DatasetError(f"{dest.name}: no URL to download it from")
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        logger.info("downloading %s", url)
        try:
            _fetch(url, dest, checksum, timeout)
        except DatasetError as exc:
            failures.append(f"{url}: {exc}")
        except (urllib.error.URLError, OSError, ValueError) as exc:  # HTTPError, timeouts, bad URLs
            failures.append(f"{url}: {type(exc).__name__}: {exc}")
        else:
            logger.info("saved %s (%s verified)", dest, checksum.algorithm.value)
            return dest
        logger.warning("download failed: %s", failures[-1])
    raise DatasetError(f"could not download {dest.name}; tried:\n  " + "\n  ".join(failures))


def mirror_urls(mirrors: Sequence[str], name: str) -> list[str]:
    """The URL of file ``name`` at each mirror (a base URL, with or without its final '/')."""
    return [mirror.rstrip("/") + "/" + urllib.parse.quote(name) for mirror in mirrors]
