"""Download the full MNIST or Fashion-MNIST (four IDX ``.gz`` files) into the user datasets folder.

Why this exists: the app ships only a 10,000-digit MNIST subset; the full sets are fetched on request
(``nnstudio data download mnist``, or the GUI's dataset menu).  Each file is streamed to ``<name>.part``,
resumed with an HTTP ``Range`` request when a ``.part`` is already there, checked against its well-known
MD5 and its IDX header, and only then moved into place with ``os.replace``; so a finished file is always
complete and an interrupted download continues where it stopped.  Mirrors are tried in order.  Network
problems and bad files become :class:`UserError` messages naming the file and the address.

The MD5 values are the published ones (the same table torchvision and many other loaders use).  A
``progress(done_bytes, total_bytes, file_name)`` callback is called as bytes arrive; raising from it
aborts the download and keeps the ``.part`` for a later resume.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from nnstudio import userdirs
from nnstudio.data.readers import read_idx
from nnstudio.errors import UserError

ProgressCallback = Callable[[int, int, str], None]
CHUNK = 1 << 16
TIMEOUT_S = 30.0
MAX_FILE_BYTES = 256 * 2**20  # the largest file (60,000 images) is under 30 MB: more is not the right file


@dataclass(frozen=True)
class RemoteFile:
    name: str
    md5: str
    ndim: int  # IDX dimensions: 3 for images, 1 for labels
    count: int  # number of samples the header must announce


@dataclass(frozen=True)
class DownloadSource:
    mirrors: tuple[str, ...]
    files: tuple[RemoteFile, ...]
    homepage: str


SOURCES: dict[str, DownloadSource] = {
    "mnist": DownloadSource(
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/",
                 "http://yann.lecun.com/exdb/mnist/"),
        files=(RemoteFile("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", 3, 60000),
               RemoteFile("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", 1, 60000),
               RemoteFile("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 3, 10000),
               RemoteFile("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 1, 10000)),
        homepage="http://yann.lecun.com/exdb/mnist/"),
    "fashion-mnist": DownloadSource(
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                 "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
        files=(RemoteFile("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", 3, 60000),
               RemoteFile("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", 1, 60000),
               RemoteFile("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", 3, 10000),
               RemoteFile("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", 1, 10000)),
        homepage="https://github.com/zalandoresearch/fashion-mnist"),
}


class _FileProblem(Exception):
    """This mirror gave a bad file (checksum or header); the next mirror may do better."""


def _writable_folder(dest: Path) -> None:
    """Create ``dest``; UserError when it is a file, cannot be created or cannot be written into."""
    if dest.exists() and not dest.is_dir():
        raise UserError(f"{dest}: is a file, but the download needs a folder there; move the file away")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{dest}: the download folder cannot be created ({exc.strerror or exc})") from None
    if not os.access(dest, os.W_OK | os.X_OK):
        raise UserError(f"{dest}: no permission to write the downloaded files into this folder")


def _must_be_a_file_or_absent(path: Path) -> None:
    if path.is_dir():
        raise UserError(f"{path}: is a folder where the downloaded file belongs; move it away and download again")
    if path.exists() and not path.is_file():
        raise UserError(f"{path}: is not a regular file (a device, pipe or socket); move it away and download "
                        "again")


def downloadable() -> list[str]:
    return sorted(SOURCES)


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(url: str, part: Path, file_name: str, progress: ProgressCallback | None) -> None:
    """Stream ``url`` into ``part``, continuing an existing ``part`` with a Range request."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "nnstudio-downloader"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)  # noqa: S310 - fixed https/http mirrors
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # nothing left to send: the .part is already whole
            return
        raise
    with response:
        status = getattr(response, "status", 200)
        if offset and status != 206:
            offset = 0  # the server ignored the Range header: start again from the first byte
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else 0
        done = offset
        if total > MAX_FILE_BYTES:
            raise _FileProblem(f"{file_name}: the server announces {total:,} bytes; expected at most "
                               f"{MAX_FILE_BYTES:,}")
        try:
            fh = open(part, "ab" if offset else "wb")  # noqa: SIM115 - closed below; write errors are the disk's
        except OSError as exc:
            raise UserError(f"{part}: cannot be written ({exc.strerror or exc})") from None
        with fh:
            if progress:
                progress(done, total, file_name)
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                try:
                    fh.write(block)
                except OSError as exc:  # a full disk is not a network problem: say so and stop
                    raise UserError(f"{part}: cannot be written ({exc.strerror or exc})") from None
                done += len(block)
                if done > MAX_FILE_BYTES:
                    raise _FileProblem(f"{file_name}: the server sent more than {MAX_FILE_BYTES:,} bytes")
                if progress:
                    progress(done, total, file_name)
            fh.flush()
            os.fsync(fh.fileno())
    if total and done < total:
        raise ConnectionError(f"connection closed after {done} of {total} bytes")


def _verify(path: Path, remote: RemoteFile, expected_md5: str | None) -> None:
    if expected_md5:
        found = md5_of(path)
        if found != expected_md5.lower():
            raise _FileProblem(f"{remote.name}: checksum mismatch (MD5 {found}, expected {expected_md5})")
    try:
        array = read_idx(path, expected_ndim=remote.ndim)
    except UserError as exc:
        raise _FileProblem(str(exc).replace(path.name, remote.name)) from exc
    if remote.count and array.shape[0] != remote.count:
        raise _FileProblem(f"{remote.name}: {array.shape[0]} samples, expected {remote.count}")


def download(name: str, dest_dir: str | os.PathLike | None = None, base_url: str | None = None,
             progress: ProgressCallback | None = None, checksums: Mapping[str, str] | None = None,
             expected_counts: Mapping[str, int] | None = None) -> Path:
    """Fetch the four IDX files of ``name`` ("mnist" or "fashion-mnist"); return the folder holding them.

    ``dest_dir`` defaults to ``<user datasets>/<name>`` (where the dataset loaders look); ``base_url``
    replaces the mirror list; ``checksums`` / ``expected_counts`` ({file name: value}) replace the
    published MD5s / sample counts (tests serve small files).  Files already present and valid are kept.
    """
    if name not in SOURCES:
        raise UserError(f"cannot download {name!r}; downloadable datasets are {', '.join(downloadable())}")
    source = SOURCES[name]
    dest = Path(dest_dir) if dest_dir is not None else userdirs.datasets_dir() / name
    _writable_folder(dest)
    mirrors = (base_url,) if base_url else source.mirrors
    for remote in source.files:
        md5 = (checksums or {}).get(remote.name, remote.md5)
        if expected_counts is not None:
            remote = RemoteFile(remote.name, remote.md5, remote.ndim, expected_counts.get(remote.name, 0))
        target = dest / remote.name
        _must_be_a_file_or_absent(target)
        _must_be_a_file_or_absent(dest / (remote.name + ".part"))
        if target.exists():
            try:
                _verify(target, remote, md5)
                size = target.stat().st_size
                if progress:
                    progress(size, size, remote.name)
                continue
            except _FileProblem:
                target.unlink()  # a damaged or foreign file: fetch it again
        _download_one(remote, md5, mirrors, dest, progress)
    return dest


def _download_one(remote: RemoteFile, md5: str, mirrors: tuple[str, ...], dest: Path,
                  progress: ProgressCallback | None) -> None:
    target = dest / remote.name
    part = dest / (remote.name + ".part")
    problems: list[str] = []
    kinds: set[str] = set()
    for base in mirrors:
        url = base.rstrip("/") + "/" + remote.name
        try:
            resumed = part.exists() and part.stat().st_size > 0
            try:
                _fetch(url, part, remote.name, progress)
                _verify(part, remote, md5)
            except _FileProblem:
                if not resumed:
                    raise
                # The old .part may have come from another file: one fresh try from the first byte.
                part.unlink(missing_ok=True)
                _fetch(url, part, remote.name, progress)
                _verify(part, remote, md5)
        except _FileProblem as exc:
            part.unlink(missing_ok=True)  # a wrong file cannot be resumed into a right one
            problems.append(f"{url}: {str(exc).removeprefix(remote.name + ': ')}")
            kinds.add("file")
            continue
        except urllib.error.HTTPError as exc:
            problems.append(f"{url}: HTTP {exc.code} {exc.reason}")
            kinds.add("http")
            continue
        except (urllib.error.URLError, socket.timeout, ConnectionError, OSError, http.client.HTTPException) as exc:
            # HTTPException: IncompleteRead (the connection closed mid-file), BadStatusLine (not an HTTP
            # server), a malformed header...: all worth a resume or another mirror.
            reason = getattr(exc, "reason", None) or exc
            if isinstance(exc, http.client.HTTPException):
                reason = f"{type(exc).__name__}: {exc!r}" if not str(exc) else f"{type(exc).__name__}: {exc}"
            problems.append(f"{url}: {reason}")
            kinds.add("network")
            continue  # keep the .part: the next mirror (or a later run) resumes it
        os.replace(part, target)
        return
    if "network" in kinds:
        hint = "check the internet connection or a proxy, then run the download again (it resumes)"
    elif "file" in kinds:
        hint = "the server sent a different or damaged file"
    else:
        hint = "the server refused the request"
    raise UserError(f"{remote.name}: download failed from every mirror ({hint}):\n  " + "\n  ".join(problems)
                    + f"\nYou can also copy the four files by hand into {dest}")
