"""The index file: one atomic write of a JSON header and the FAISS bytes.

Layout: MAGIC, 8-byte little-endian header length, header JSON, payload. The header names
what the payload holds (kind, model, store, history watermark) and its length and CRC, so a
truncated, garbled or foreign file is detected and rebuilt instead of trusted.
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
import zlib
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel, ValidationError

from memory.config import IndexKind

MAGIC = b"EYLAIDX1"
_LENGTH = struct.Struct("<Q")


class IndexFileError(Exception):
    """The file is missing, truncated or not ours; the caller rebuilds from the database."""


class IndexHeader(BaseModel):
    store_id: str
    kind: IndexKind
    model: str
    dim: int
    watermark: int  # the last history id applied to the payload
    tombstones: list[int]
    payload_bytes: int
    payload_crc32: int

    @classmethod
    def describing(
        cls,
        payload: bytes | memoryview,
        *,
        store_id: str,
        kind: IndexKind,
        model: str,
        dim: int,
        watermark: int,
        tombstones: list[int],
    ) -> IndexHeader:
        return cls(
            store_id=store_id,
            kind=kind,
            model=model,
            dim=dim,
            watermark=watermark,
            tombstones=tombstones,
            payload_bytes=len(payload),
            payload_crc32=zlib.crc32(payload),
        )


def write_index_file(path: Path, header: IndexHeader, payload: bytes | memoryview) -> None:
    """Write to a temp file, fsync, rename over `path`, fsync the directory: a crash at
    any point leaves either the old file or the new one, never a mix."""
    head = header.model_dump_json().encode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(MAGIC + _LENGTH.pack(len(head)) + head)
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def remove_stale_temp_files(path: Path) -> None:
    """Temp files left by a writer killed mid-write. Call only while holding the lock that
    every writer holds, so none of them is still being written."""
    for stale in path.parent.glob(f"{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def read_header(path: Path) -> IndexHeader:
    with _open(path) as file:
        return _header(file)


def read_index_file(path: Path) -> tuple[IndexHeader, bytes]:
    with _open(path) as file:
        header = _header(file)
        # checked before reading: a damaged length must not size the read
        if header.payload_bytes != _bytes_left(file):
            raise IndexFileError(f"{path} is truncated or has trailing bytes")
        payload = file.read(header.payload_bytes)
    if zlib.crc32(payload) != header.payload_crc32:
        raise IndexFileError(f"{path} is corrupt (checksum mismatch)")
    return header, payload


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except FileNotFoundError as exc:
        raise IndexFileError(f"{path} is missing") from exc


def _header(file: BinaryIO) -> IndexHeader:
    if file.read(len(MAGIC)) != MAGIC:
        raise IndexFileError(f"{file.name} is not an Eyla index file")
    raw_length = file.read(_LENGTH.size)
    if len(raw_length) != _LENGTH.size:
        raise IndexFileError(f"{file.name} is truncated")
    (length,) = _LENGTH.unpack(raw_length)
    # checked before reading: a damaged length must not size the read
    if length > _bytes_left(file):
        raise IndexFileError(f"{file.name} has a header length beyond its end")
    head = file.read(length)
    try:
        return IndexHeader.model_validate_json(head)
    except ValidationError as exc:
        raise IndexFileError(f"{file.name} has an unreadable header") from exc


def _bytes_left(file: BinaryIO) -> int:
    return os.fstat(file.fileno()).st_size - file.tell()
