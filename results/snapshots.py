"""Snapshot documents on disk: immutable content-hashed files and atomically replaced pointers.

Layout under ``SNAPSHOT_ROOT`` (docs/live-data.md), chosen so a front server maps URLs to
files without Python (``/live/<path>`` → ``SNAPSHOT_ROOT/<path>``):

- ``v/<hash>/<path>``: the document's bytes, never changed once written (``<hash>`` is the
  first 16 hex digits of their SHA-256);
- ``<path>``: a symbolic link to the current version, replaced with ``os.replace`` (a
  rename), so a reader opening it gets one whole version, old or new, never a torn one;
- ``v/<hash>/<path>.gz`` and ``<path>.gz`` likewise, for documents over ``GZIP_MINIMUM``
  bytes: the same version compressed once by the publisher, so a front server answers
  ``Accept-Encoding: gzip`` from the file (nginx ``gzip_static``) instead of compressing per
  request.

Versions are written to a temporary name in the same directory and renamed into place too.
Nothing is fsynced: after a crash the reconciler rebuilds every document from the database.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import re
import shutil
import time
import uuid
from pathlib import Path

HASH_LENGTH = 16
GZIP_MINIMUM = 1024  # smaller documents are sent as they are
GZIP_LEVEL = 6

# The document paths a request may name (no "..", no absolute paths, nothing else on disk).
DOCUMENT_PATH = re.compile(
    r"^(?:\d{4}-\d{2}-\d{2}/national\.json"
    r"|\d{4}-\d{2}-\d{2}/council/[a-z0-9][a-z0-9_-]*\.json"
    r"|ballot/[a-z0-9][a-z0-9._-]*\.json)$"
)
VERSIONED_PATH = re.compile(rf"^v/(?P<hash>[0-9a-f]{{{HASH_LENGTH}}})/(?P<path>.+)$")


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:HASH_LENGTH]


def _write_file_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def write_document(root: Path, relpath: str, data: bytes) -> str:
    """Store ``data`` as the current version of ``relpath``; return its content hash.

    Writes ``v/<hash>/<relpath>`` (and its ``.gz``, over ``GZIP_MINIMUM`` bytes) unless that
    version exists, then points ``relpath`` (and ``relpath.gz``) at it, the compressed
    pointer first. Writing the current version again changes nothing. The version being
    replaced has its directory's modification time set to now, so ``collect_garbage`` keeps
    it for the keep period from its replacement, not from its creation.
    """
    if not DOCUMENT_PATH.match(relpath):
        raise ValueError(f"not a snapshot document path: {relpath!r}")
    digest = content_hash(data)
    target = root / "v" / digest / relpath
    compressed = len(data) > GZIP_MINIMUM
    if not target.exists():
        if compressed:
            _write_file_atomically(
                target.with_name(target.name + ".gz"), gzip.compress(data, GZIP_LEVEL, mtime=0)
            )
        _write_file_atomically(target, data)
    pointer = root / relpath
    gz_pointer = pointer.with_name(pointer.name + ".gz")
    if compressed:
        _point(gz_pointer, target.with_name(target.name + ".gz"))
    else:
        # A small version has no .gz: a front server must not serve an older one.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(gz_pointer)
    previous = _point(pointer, target)
    if previous is not None:
        old_version = _version_directory(root, pointer.parent / previous)
        if old_version is not None:
            with contextlib.suppress(OSError):
                os.utime(old_version)
    return digest


def _point(pointer: Path, target: Path) -> str | None:
    """Make ``pointer`` a symbolic link to ``target`` (atomically); return the link it
    replaced, or None if there was none or it already pointed there."""
    link = os.path.relpath(target, pointer.parent)
    try:
        previous = os.readlink(pointer)
    except OSError:
        previous = None
    if previous == link:
        return None
    pointer.parent.mkdir(parents=True, exist_ok=True)
    temporary = pointer.with_name(f".{pointer.name}.{uuid.uuid4().hex}.tmp")
    os.symlink(link, temporary)
    os.replace(temporary, pointer)
    return previous


def _version_directory(root: Path, target: Path) -> Path | None:
    """``root/v/<hash>`` of a version file, or None if ``target`` is not one."""
    try:
        relative = Path(os.path.normpath(target)).relative_to(root / "v")
    except ValueError:
        return None
    return root / "v" / relative.parts[0] if relative.parts else None


def current_hash(root: Path, relpath: str) -> str | None:
    """The content hash of the current version of ``relpath``, or None if unpublished."""
    try:
        link = os.readlink(root / relpath)
    except OSError:
        return None
    match = re.search(rf"(?:^|/)v/([0-9a-f]{{{HASH_LENGTH}}})/", link)
    return match.group(1) if match else None


def read_current(root: Path, relpath: str) -> bytes | None:
    """The current version's bytes, or None if unpublished."""
    digest = current_hash(root, relpath)
    if digest is None:
        return None
    try:
        return (root / "v" / digest / relpath).read_bytes()
    except OSError:
        return None


def collect_garbage(root: Path, *, keep_seconds: float, now: float | None = None) -> int:
    """Delete versions replaced more than ``keep_seconds`` ago that no pointer names.

    Returns the number of version directories removed. Safe to run while publishers write:
    a version directory touched within the keep period is left alone.
    """
    versions = root / "v"
    if not versions.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - keep_seconds
    removed = 0
    with os.scandir(versions) as entries:
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False):
                continue
            try:
                if entry.stat(follow_symlinks=False).st_mtime > cutoff:
                    continue
            except OSError:
                continue
            if _is_current(root, Path(entry.path)):
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
    return removed


def _is_current(root: Path, version_directory: Path) -> bool:
    for directory, _subdirectories, files in os.walk(version_directory):
        for name in files:
            if name.startswith("."):
                continue
            target = Path(directory) / name
            relpath = target.relative_to(version_directory).as_posix()
            pointer = root / relpath.removesuffix(".gz")
            target = target.with_name(pointer.name)
            try:
                if os.path.normpath(pointer.parent / os.readlink(pointer)) == os.path.normpath(target):
                    return True
            except OSError:
                continue
    return False
