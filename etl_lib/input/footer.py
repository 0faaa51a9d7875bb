"""A bounded look at a Parquet footer before pyarrow parses it.

pyarrow builds its schema tree recursively: a footer whose schema nests 20,000 groups (a
160 KB file) overflows the C stack inside ``pq.ParquetFile`` and the process dies with
SIGSEGV, before any check on the Arrow schema can run. So the footer is read here first,
without recursion and within fixed bounds, and a file outside the limits is refused with
one line. Only what the limits need is read: the schema list (``FileMetaData`` field 2:
its depth and its leaf columns) and the row-group count (the header of field 4); the rest,
pyarrow reads.

The footer is Thrift's compact protocol, as the Parquet format specifies. No library on the
runtime's dependency list decodes it apart from pyarrow itself (whose parser is what must
not run first), hence this small hand-written reader; it follows the compact protocol
specification (field headers with id deltas, zigzag varints, list and map headers) and
skips every field it does not need with an explicit stack, never by recursion.
"""

from __future__ import annotations

from dataclasses import dataclass

MAGIC = b"PAR1"
ENCRYPTED_MAGIC = b"PARE"
TAIL_BYTES = 8  # footer length (4 bytes, little-endian) + magic
# Compact protocol types.
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(13)
_FIXED = {_BYTE: 1, _DOUBLE: 8}
# FileMetaData and SchemaElement field ids (parquet.thrift).
_FILE_SCHEMA, _FILE_ROW_GROUPS = 2, 4
_ELEMENT_NAME, _ELEMENT_NUM_CHILDREN = 4, 5
# Thrift structures nested inside the footer (not the schema tree, which is a flat list):
# parquet.thrift's deepest is a handful of levels; anything deeper is not a Parquet footer.
MAX_THRIFT_NESTING = 64


class FooterError(ValueError):
    """The footer is malformed; the message says how, in words that follow the file's name."""


def _corrupt(detail: str) -> FooterError:
    """``detail`` of the footer, as the message of a corrupt or truncated file."""
    separator = "" if detail.startswith("'") else " "
    return FooterError(f"is corrupt or truncated (its footer{separator}{detail})")


@dataclass(frozen=True)
class FooterShape:
    """What the limits look at, read from a footer without building anything from it."""

    footer_bytes: int
    schema_depth: int
    """Groups on the deepest path of the Parquet schema tree (a top-level leaf is 0; a
    list column written with the standard three levels is 2)."""
    columns: int
    """Leaf columns (primitive schema elements)."""
    row_groups: int


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise _corrupt("ends in the middle of a value")
        self.pos += 1
        return self.data[self.pos - 1]

    def varint(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise _corrupt("holds a malformed integer")

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def skip_bytes(self, n: int) -> None:
        if n < 0 or self.pos + n > len(self.data):
            raise _corrupt("ends in the middle of a value")
        self.pos += n

    def field(self, last_id: int) -> tuple[int, int]:
        """The next field header of a struct: (field id, type); type ``_STOP`` ends it."""
        header = self.byte()
        kind = header & 0x0F
        if kind == _STOP:
            return 0, _STOP
        delta = header >> 4
        return (last_id + delta if delta else self.zigzag()), kind

    def collection(self) -> tuple[int, int]:
        """A list or set header: (element type, size)."""
        header = self.byte()
        size = header >> 4
        if size == 15:
            size = self.varint()
        return header & 0x0F, size

    def _enter(self, kind: int, stack: list[list[int]]) -> None:
        """Read a value of ``kind``: a scalar whole, a container's header onto ``stack``."""
        if kind in (_TRUE, _FALSE):
            return
        if kind in _FIXED:
            self.skip_bytes(_FIXED[kind])
        elif kind in (_I16, _I32, _I64):
            self.varint()
        elif kind == _BINARY:
            self.skip_bytes(self.varint())
        elif kind in (_LIST, _SET):
            element, size = self.collection()
            stack.append([size, element])
        elif kind == _MAP:
            size = self.varint()
            kinds = self.byte() if size else 0
            stack.append([2 * size, kinds >> 4, kinds & 0x0F])
        elif kind == _STRUCT:
            stack.append([-1, 0])
        else:
            raise _corrupt(f"holds an unknown Thrift type {kind}")
        if len(stack) > MAX_THRIFT_NESTING:
            raise _corrupt(f"nests Thrift structures over {MAX_THRIFT_NESTING} deep")

    def skip(self, kind: int) -> None:
        """Skip one value of ``kind``, however nested, with an explicit stack."""
        # Each entry: a struct [-1, last field id], or a run of [count, kind] values (a list
        # or set) or [count, key kind, value kind] (a map, keys and values alternating).
        stack: list[list[int]] = []
        self._enter(kind, stack)
        while stack:
            top = stack[-1]
            if top[0] == -1:  # a struct: its next field, or its end
                field_id, kind = self.field(top[1])
                if kind == _STOP:
                    stack.pop()
                else:
                    top[1] = field_id
                    self._enter(kind, stack)
            elif top[0] == 0:
                stack.pop()
            else:
                top[0] -= 1
                # A map alternates key and value (an odd count left: a key is next).
                element = top[1] if len(top) == 2 or top[0] % 2 == 1 else top[2]
                # A boolean element of a list or map is a byte (in a struct, the header).
                self._enter(_BYTE if element in (_TRUE, _FALSE) else element, stack)


def _schema(cursor: _Cursor) -> tuple[int, int]:
    """Read the schema list: (depth, leaf columns). The list is the tree flattened depth
    first, each group followed by its ``num_children`` children."""
    element, size = cursor.collection()
    if element != _STRUCT or size < 1:
        raise _corrupt("'s schema is not a list of elements")
    open_groups: list[int] = []  # children still to come, of each group on the current path
    depth = columns = 0
    for index in range(size):
        num_children = None
        last = 0
        while True:
            field_id, kind = cursor.field(last)
            if kind == _STOP:
                break
            last = field_id
            if field_id == _ELEMENT_NUM_CHILDREN and kind == _I32:
                num_children = cursor.zigzag()
            else:
                cursor.skip(kind)
        if index == 0:
            if num_children is None or num_children < 0:
                raise _corrupt("'s schema root is not a group")
            open_groups.append(num_children)
        else:
            if not open_groups:
                raise _corrupt("'s schema has more elements than its groups declare")
            open_groups[-1] -= 1
            if num_children is None:
                columns += 1
            elif num_children < 0:
                raise _corrupt("'s schema declares a negative number of children")
            else:
                open_groups.append(num_children)
                depth = max(depth, len(open_groups) - 1)
        while open_groups and open_groups[-1] == 0:
            open_groups.pop()
    if open_groups:
        raise _corrupt("'s schema declares more children than it holds")
    return depth, columns


def footer_shape(footer: bytes) -> FooterShape:
    """The shape of a serialized ``FileMetaData`` (the bytes before the file's last 8)."""
    cursor = _Cursor(footer)
    depth = columns = row_groups = -1
    last = 0
    while row_groups < 0:
        field_id, kind = cursor.field(last)
        if kind == _STOP:
            break
        last = field_id
        if field_id == _FILE_SCHEMA and kind == _LIST and depth < 0:
            depth, columns = _schema(cursor)
        elif field_id == _FILE_ROW_GROUPS and kind == _LIST:
            _, row_groups = cursor.collection()  # their contents are pyarrow's to read
        else:
            cursor.skip(kind)
    if depth < 0:
        raise _corrupt("has no schema")
    return FooterShape(len(footer), depth, columns, max(row_groups, 0))


def footer_length(tail: bytes, file_size: int) -> int:
    """The footer's length from the file's last 8 bytes, checked against the file's size."""
    if file_size == 0:
        raise FooterError("is empty (0 bytes), not a Parquet file")
    if len(tail) < TAIL_BYTES or file_size < 12:
        raise FooterError(f"is too short ({file_size} bytes) to be a Parquet file")
    magic = tail[-4:]
    if magic == ENCRYPTED_MAGIC:
        raise FooterError("is an encrypted Parquet file; encrypted inputs are not supported")
    if magic != MAGIC:
        raise FooterError("is not a Parquet file (no PAR1 magic bytes at its end)")
    length = int.from_bytes(tail[-8:-4], "little")
    if length > file_size - 12:
        raise _corrupt(f"declares {length} bytes in a file of {file_size}")
    return length
