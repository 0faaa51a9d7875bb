"""The native record encoder: loader and Python wrapper of ``etl_lib.contract._native.encoder``.

The C kernel (etl_lib/contract/_native/encoder.c) implements docs/json-contract.md in one pass from
a record batch's Arrow buffers to JSON bytes, with the GIL released. :mod:`etl_lib.contract.reference`
stays the reference implementation: it calls :func:`encode_lines` first and uses its own
Arrow-kernel path when this returns ``None`` - the extension did not load (not compiled on
this machine), ``ETL_ENCODER=reference`` forces the reference, the batch holds a type the
kernel does not know (the reference then encodes it or raises its UnsupportedTypeError), or
a value the contract refuses (the reference then raises its error for it).
One log line per process says which encoder runs.
"""

from __future__ import annotations

import functools
import os
from types import ModuleType
from typing import TYPE_CHECKING

import pyarrow as pa

from etl_lib._runtime.lazy import DEBUG, INFO, WARNING, lazy_module, log
from etl_lib.contract.type_families import children
from etl_lib.errors import BadValueError, UnsupportedTypeError
from etl_lib.options import ConvertOptions, GeometryFormat

if TYPE_CHECKING:
    import pyarrow.compute as pc
else:  # only batches holding shredded variants need it
    pc = lazy_module("pyarrow.compute")

ENCODER_ENV = "ETL_ENCODER"
"""Environment variable choosing the encoder: ``native`` (the default: the native encoder
when it loads) or ``reference`` (always the Arrow-kernel path of etl_lib.contract.reference)."""
NATIVE = "native"
REFERENCE = "reference"


def _load() -> tuple[ModuleType | None, str]:
    try:
        from etl_lib.contract._native import encoder  # type: ignore[attr-defined]
    except ImportError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return encoder, encoder.__file__ or "etl_lib.contract._native.encoder"


@functools.cache
def _module(choice: str) -> ModuleType | None:
    """The loaded kernel for ``choice`` (None: the reference runs), logged once per choice."""
    if choice == REFERENCE:
        log(__name__, INFO, "JSON encoder: reference (Arrow kernels), forced by %s=%s", ENCODER_ENV, REFERENCE)
        return None
    module, where = _load()
    if module is None:
        log(__name__, WARNING, "JSON encoder: reference (Arrow kernels); the native encoder did not load (%s)", where)
    else:
        log(__name__, INFO, "JSON encoder: native (%s)", where)
    return module


def selected() -> str:
    """The encoder :mod:`etl_lib.contract.reference` uses now: ``native`` or ``reference``."""
    return NATIVE if _active() is not None else REFERENCE


def load_error() -> str | None:
    """Why the native encoder cannot load, or None when it loads."""
    module, where = _load()
    return None if module is not None else where


def _active() -> ModuleType | None:
    choice = os.environ.get(ENCODER_ENV, NATIVE).strip().lower() or NATIVE
    return _module(REFERENCE if choice == REFERENCE else NATIVE)


def _flags(module: ModuleType, opts: ConvertOptions) -> int:
    return (
        (module.DROP_NULLS if opts.drop_nulls else 0)
        | (module.BIGINT_AS_STRING if opts.bigint_as_string else 0)
        | (module.DECIMAL_AS_STRING if opts.decimal_as_string else 0)
        | (module.NAN_AS_STRING if opts.nan_as_string else 0)
        | (module.GEOMETRY_WKB if opts.geometry is GeometryFormat.WKB else 0)
        | (module.GEOMETRY_WKT if opts.geometry is GeometryFormat.WKT else 0)
    )


@functools.cache
def _float16_table() -> bytes:
    """numpy's shortest text of every float16 bit pattern (what the reference prints),
    in 16-byte slots: the length, then the text. Built once, on the first float16 column."""
    import numpy as np

    table = bytearray(65536 * 16)
    for bits, value in enumerate(np.arange(65536, dtype=np.uint16).view(np.float16).tolist()):
        text = str(np.float16(value)).encode("ascii")
        table[16 * bits] = len(text)
        table[16 * bits + 1 : 16 * bits + 1 + len(text)] = text
    return bytes(table)


def _run(
    module: ModuleType, exportable: pa.Array | pa.RecordBatch, mode: int, opts: ConvertOptions, term: bytes
) -> pa.Array | None:
    schema, array = exportable.__arrow_c_array__()
    table = b""
    while True:
        data, offsets, validity, null_count, large, error = module.encode(
            schema, array, mode, _flags(module, opts), term, table
        )
        if error is None or error[0] != "need_float16":
            break
        table = _float16_table()
    if error is not None:
        kind, row = error
        # "unsupported": a type the kernel does not know. "invalid_utf8", "invalid_time": a
        # value the contract refuses (the kernel validates as it writes). Either way the
        # reference path takes the batch, so the refusal - its code, the column path and
        # the row in its message - is the reference's own, word for word.
        log(__name__, DEBUG, "native encoder: %s at row %s; the reference path encodes this batch", kind, row)
        return None
    buffers = [None if validity is None else pa.py_buffer(validity), pa.py_buffer(offsets), pa.py_buffer(data)]
    length = len(exportable) if isinstance(exportable, pa.Array) else exportable.num_rows
    text_type = pa.large_string() if large else pa.string()
    return pa.Array.from_buffers(text_type, length, buffers, null_count=null_count)


def release_buffers() -> int:
    """Free the output buffers the native encoder keeps for reuse between batches (its pool
    is bounded, but a process that goes on living after a conversion should not keep them);
    returns the bytes freed (0 when the native encoder is not in use)."""
    module = _active()
    return 0 if module is None else int(module.trim())


def _is_shredded(t: pa.DataType) -> bool:
    from etl_lib.contract import variant  # imports the reference, which imports this module

    return variant.is_variant_type(t) and t.storage_type.get_field_index("typed_value") >= 0


def _has_shredded(t: pa.DataType) -> bool:
    try:
        kids = children(t)
    except UnsupportedTypeError:
        return False  # a type no rule covers: the kernel declines it, the reference refuses it
    return _is_shredded(t) or any(_has_shredded(child.type) for child in kids)


def _shredded_as_json(arr: pa.Array, opts: ConvertOptions, path: str) -> pa.Array:
    """``arr`` with every shredded VARIANT in it, at any depth of structs, lists and maps,
    rendered as JSON text (by etl_lib.contract.variant), which the kernel writes verbatim."""
    from etl_lib.contract import variant  # imports the reference, which imports this module

    t = arr.type
    if _is_shredded(t):
        return variant.to_json(arr, opts, path)
    if not _has_shredded(t):
        return arr
    mask = pc.is_null(arr) if arr.null_count else None
    if pa.types.is_struct(t):
        kids = [_shredded_as_json(kid, opts, f"{path}.{f.name}") for f, kid in zip(t, arr.flatten(), strict=True)]
        fields = [f.with_type(kid.type) for f, kid in zip(t, kids, strict=True)]
        return pa.StructArray.from_arrays(kids, fields=fields, mask=mask)
    if pa.types.is_map(t):
        items = _shredded_as_json(arr.items, opts, path + ".value")
        return pa.MapArray.from_arrays(arr.offsets, arr.keys, items, mask=mask)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        values = _shredded_as_json(arr.values, opts, path + "[]")
        return type(arr).from_arrays(arr.offsets, values, mask=mask)
    raise _Declined  # a list view or a fixed-size list holding one: the reference takes it


class _Declined(Exception):
    """The batch goes to the reference path."""


def _prepared(batch: pa.RecordBatch, opts: ConvertOptions) -> pa.RecordBatch | None:
    """``batch`` with its shredded VARIANT values rendered as JSON text (the kernel decodes
    unshredded ones itself), or None when the reference path must take it: a refused
    variant (the reference then names the row of its record), or a shape not rebuilt here."""
    for i, field in enumerate(batch.schema):
        if _has_shredded(field.type):
            try:
                text = _shredded_as_json(batch.column(i), opts, field.name)
            except (BadValueError, _Declined):
                return None
            batch = batch.set_column(i, field.with_type(text.type), text)
    return batch


def encode_lines(batch: pa.RecordBatch | pa.Table, opts: ConvertOptions, terminator: str) -> pa.Array | None:
    """One JSON object per row of ``batch``, each followed by ``terminator`` (a string array,
    or a large string array past 2 GiB), or None when the reference path must encode it."""
    module = _active()
    if module is None:
        return None
    if isinstance(batch, pa.Table):
        if batch.num_columns == 0:
            return None
        batch = pa.RecordBatch.from_arrays([c.combine_chunks() for c in batch.columns], schema=batch.schema)
    prepared = _prepared(batch, opts)
    if prepared is None:
        return None
    return _run(module, prepared, module.MODE_LINES, opts, terminator.encode("utf-8"))


def encode_values(arr: pa.Array | pa.ChunkedArray, opts: ConvertOptions) -> pa.Array | None:
    """The JSON text of each value of ``arr``, null where the value is null (what
    ``contract.encode_array`` returns), or None when the reference path must encode it."""
    module = _active()
    if module is None:
        return None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return _run(module, arr, module.MODE_VALUES, opts, b"")
