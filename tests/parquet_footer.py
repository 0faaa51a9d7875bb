"""Rewrite the Thrift footer of a Parquet file, to build the files other writers produce.

pyarrow (and every validating writer we have) refuses to write a struct with no fields,
and always tells the truth about sizes; files from other writers do neither. This helper
decodes the footer (Thrift compact protocol, the encoding the Parquet format specifies),
lets a test edit it as nested Python lists, and writes it back with the pages untouched.
The compact protocol is small and stable; no Python library on our dependency list reads
it, hence this hand-written codec (tests only).

A struct is a list of ``[field_id, type, value]``; lists are ``[element_type, [values]]``.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

STOP, TRUE, FALSE, BYTE, I16, I32, I64, DOUBLE, BINARY, LIST, SET, MAP, STRUCT = range(13)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        self.pos += 1
        return self.data[self.pos - 1]

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, kind: int) -> Any:
        if kind in (TRUE, FALSE):
            return kind == TRUE
        if kind == BYTE:
            return self.byte()
        if kind in (I16, I32, I64):
            return self.zigzag()
        if kind == DOUBLE:
            self.pos += 8
            return struct.unpack("<d", self.data[self.pos - 8 : self.pos])[0]
        if kind == BINARY:
            n = self.varint()
            self.pos += n
            return self.data[self.pos - n : self.pos]
        if kind in (LIST, SET):
            header = self.byte()
            size, elem = header >> 4, header & 0x0F
            if size == 15:
                size = self.varint()
            if elem in (TRUE, FALSE):
                return [elem, [self.byte() == TRUE for _ in range(size)]]
            return [elem, [self.value(elem) for _ in range(size)]]
        if kind == STRUCT:
            return self.struct()
        raise ValueError(f"unsupported thrift type {kind}")

    def struct(self) -> list[list[Any]]:
        fields: list[list[Any]] = []
        last = 0
        while True:
            header = self.byte()
            if header == STOP:
                return fields
            delta, kind = header >> 4, header & 0x0F
            fid = last + delta if delta else self.zigzag()
            fields.append([fid, kind, self.value(kind)])
            last = fid


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        if n < 0x80:
            out.append(n)
            return bytes(out)
        out.append((n & 0x7F) | 0x80)
        n >>= 7


def _zigzag(n: int) -> bytes:
    return _varint((n << 1) ^ (n >> 63))


def _value(kind: int, value: Any) -> bytes:
    if kind == BYTE:
        return bytes([value])
    if kind in (I16, I32, I64):
        return _zigzag(value)
    if kind == DOUBLE:
        return struct.pack("<d", value)
    if kind == BINARY:
        return _varint(len(value)) + value
    if kind in (LIST, SET):
        elem, items = value
        head = bytes([(len(items) << 4) | elem]) if len(items) < 15 else bytes([0xF0 | elem]) + _varint(len(items))
        if elem in (TRUE, FALSE):
            return head + bytes(TRUE if v else FALSE for v in items)
        return head + b"".join(_value(elem, v) for v in items)
    if kind == STRUCT:
        return encode_struct(value)
    raise ValueError(f"unsupported thrift type {kind}")


def encode_struct(fields: list[list[Any]]) -> bytes:
    out, last = bytearray(), 0
    for fid, kind, value in fields:
        if kind in (TRUE, FALSE):
            kind = TRUE if value else FALSE
        delta = fid - last
        out += bytes([(delta << 4) | kind]) if 0 < delta <= 15 else bytes([kind]) + _zigzag(fid)
        if kind not in (TRUE, FALSE):
            out += _value(kind, value)
        last = fid
    return bytes(out) + bytes([STOP])


def field(fields: list[list[Any]], fid: int) -> list[Any]:
    """The ``[id, type, value]`` entry of field ``fid`` (KeyError if absent)."""
    for entry in fields:
        if entry[0] == fid:
            return entry
    raise KeyError(fid)


def read_footer(path: Path) -> tuple[bytes, list[list[Any]]]:
    """The bytes before the footer, and the decoded FileMetaData."""
    data = path.read_bytes()
    assert data[-4:] == b"PAR1"
    length = struct.unpack("<i", data[-8:-4])[0]
    start = len(data) - 8 - length
    return data[:start], _Reader(data[start : len(data) - 8]).struct()


def write_footer(path: Path, body: bytes, meta: list[list[Any]]) -> None:
    footer = encode_struct(meta)
    path.write_bytes(body + footer + struct.pack("<i", len(footer)) + b"PAR1")


# FileMetaData / RowGroup / ColumnChunk / ColumnMetaData / SchemaElement field ids
# (parquet.thrift).
FILE_SCHEMA, FILE_ROW_GROUPS = 2, 4
RG_COLUMNS, RG_TOTAL_BYTE_SIZE = 1, 2
CHUNK_META = 3
META_TOTAL_UNCOMPRESSED, META_TOTAL_COMPRESSED = 6, 7
SCHEMA_TYPE, SCHEMA_NAME, SCHEMA_NUM_CHILDREN = 1, 4, 5
