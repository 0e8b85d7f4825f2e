"""Nd4j's binary array format (``Nd4j.write`` / ``Nd4j.read``), as in ``coefficients.bin``.

An array is two ``DataBuffer`` records, big-endian (Java ``DataOutputStream``)::

    [UTF alloc-mode][length][UTF "LONG"|"INT"][shape info]   the shape record
    [UTF alloc-mode][length][UTF dtype][elements]             the data record

shape info = ``[rank, shape..., stride..., extras, element-wise stride, order]``. DL4J 1.0.0-beta4 …
M2.1 write the ``MIXED_DATA_TYPES`` / ``LONG`` form with the data type bit in ``extras``; older writers
used ``JAVACPP`` (int32 lengths, INT shape) or ``LONG_SHAPE`` with ``extras = 0``. See
``shared/research/dl4j-formats.md`` §3.
"""
from __future__ import annotations

import math
import struct
from typing import Any, Sequence, BinaryIO

import numpy as np
from numpy.lib.stride_tricks import as_strided

from workbench.errors import DL4JFileError, ExportError

__all__ = ["write_array", "write_row_vector", "read_array", "array_bytes_size", "DTYPE_NAMES"]

MIXED_DATA_TYPES = "MIXED_DATA_TYPES"
_INT_LENGTH_MODES = ("DIRECT", "HEAP", "JAVACPP")  # AllocationMode ordinal < 3: int32 length
_LONG_LENGTH_MODES = ("LONG_SHAPE", MIXED_DATA_TYPES)

# Nd4j data type name -> (big-endian numpy dtype, ArrayOptionsHelper data-type bit)
_TYPES: dict[str, tuple[str, int]] = {
    "DOUBLE": (">f8", 16384),
    "FLOAT": (">f4", 8192),
    "HALF": (">f2", 4096),
    "LONG": (">i8", 262144),
    "INT": (">i4", 131072),
    "SHORT": (">i2", 65536),
    "BYTE": ("i1", 32768),
    "UBYTE": ("u1", 32768 | 8388608),
    "UINT16": (">u2", 65536 | 8388608),
    "UINT32": (">u4", 131072 | 8388608),
    "UINT64": (">u8", 262144 | 8388608),
    "BOOL": ("?", 524288),
}
DTYPE_NAMES: dict[np.dtype, str] = {np.dtype(v[0]).newbyteorder("="): k for k, v in _TYPES.items()}
_EMPTY_BIT = 8
_ORDER_C, _ORDER_F = ord("c"), ord("f")
_CHUNK_ELEMENTS = 1 << 18  # elements converted to big-endian per write call


# ----------------------------------------------------------------------------------------- writing


def _utf(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack(">H", len(raw)) + raw


def _dl4j_c_strides(shape: tuple[int, ...], legacy_vector_strides: bool) -> list[int]:
    """Element strides DL4J stores for a fresh 'c' array.

    M2.1 (native shape info) stores plain C strides, and zeros for empty arrays; beta4 … beta7
    (Java ``ArrayUtil.calcStrides``) stored ``[1, 1]`` for 2-D row and column vectors.
    """
    if any(d == 0 for d in shape):
        return [0] * len(shape)
    if legacy_vector_strides and len(shape) == 2 and (shape[0] == 1 or shape[1] == 1):
        return [1, 1]
    strides, step = [], 1
    for dim in reversed(shape):
        strides.append(step)
        step *= int(dim)
    return strides[::-1]


def _type_name(dtype: np.dtype) -> str:
    name = DTYPE_NAMES.get(dtype.newbyteorder("="))
    if name is None:
        raise ExportError(
            "cannot write this array as an Nd4j binary array",
            expected="float16/32/64, int8/16/32/64, uint8/16/32/64 or bool",
            received=str(dtype),
        )
    return name


def array_bytes_size(shape: tuple[int, ...] | list[int], dtype: Any = np.float32) -> int:
    """Number of bytes :func:`write_array` produces for an array of this shape and dtype.

    Args:
        shape: array shape.
        dtype: numpy dtype.

    Returns:
        The exact size of the serialised array.
    """
    name = _type_name(np.dtype(dtype))
    rank = len(shape)
    n = int(np.prod(shape, dtype=np.int64)) if rank else 1
    header = 2 * len(_utf(MIXED_DATA_TYPES)) + 2 * 8 + len(_utf("LONG")) + len(_utf(name))
    return header + 8 * (2 * rank + 4) + n * np.dtype(_TYPES[name][0]).itemsize


def _header(shape: tuple[int, ...], name: str, legacy_vector_strides: bool) -> bytes:
    """The shape-info record and the data record's header of ``Nd4j.write``."""
    _, bit = _TYPES[name]
    n = math.prod(shape)
    extras = bit | (_EMPTY_BIT if n == 0 else 0)
    ews = 0 if n == 0 else 1
    shape_info = [len(shape), *shape, *_dl4j_c_strides(shape, legacy_vector_strides), extras, ews, _ORDER_C]
    return (
        _utf(MIXED_DATA_TYPES)
        + struct.pack(">q", len(shape_info))
        + _utf("LONG")
        + struct.pack(f">{len(shape_info)}q", *shape_info)
        + _utf(MIXED_DATA_TYPES)
        + struct.pack(">q", n)
        + _utf(name)
    )


def write_row_vector(fileobj: BinaryIO, pieces: Sequence[np.ndarray], *, legacy_vector_strides: bool = True) -> int:
    """Write the ``[1, N]`` float32 row vector made of ``pieces`` (1-D arrays) without concatenating them.

    Byte for byte what ``write_array(fileobj, np.concatenate(pieces)[None, :])`` writes; a converter can
    hand each layer's parameters over as they are, so peak memory stays at one copy of the model.

    Args:
        fileobj: binary stream to write to.
        pieces: arrays whose C-order elements, one piece after the other, form the vector (cast to float32).
        legacy_vector_strides: see :func:`write_array` (default: the beta4 … beta7 ``[1, 1]`` strides).

    Returns:
        Number of bytes written.
    """
    n = sum(int(p.size) for p in pieces)
    header = _header((1, n), "FLOAT", legacy_vector_strides)
    fileobj.write(header)
    written = len(header)
    big = _TYPES["FLOAT"][0]
    for piece in pieces:
        flat = np.asarray(piece, dtype=np.float32).reshape(-1)
        for start in range(0, flat.size, _CHUNK_ELEMENTS):
            chunk = np.ascontiguousarray(flat[start:start + _CHUNK_ELEMENTS].astype(big, copy=False))
            fileobj.write(memoryview(chunk).cast("B"))
            written += chunk.nbytes
    return written


def write_array(fileobj: BinaryIO, arr: Any, *, legacy_vector_strides: bool = False) -> int:
    """Write ``arr`` exactly as DL4J 1.0.0-M2.1 ``Nd4j.write`` does (order 'c').

    The data record is converted to big-endian chunk by chunk, so a 25M-element
    vector is never copied as a whole.

    Args:
        fileobj: binary stream to write to.
        arr: array-like; its numpy dtype picks the Nd4j type (float32 -> FLOAT, float64 -> DOUBLE, ...).
        legacy_vector_strides: store ``[1, 1]`` strides for 2-D row/column vectors, byte for byte
            what DL4J 1.0.0-beta4 … beta7 wrote (e.g. their ``[1, N]`` coefficients.bin). Both forms
            load in every version; only the stride field differs.

    Returns:
        Number of bytes written.

    Raises:
        ExportError: the dtype has no Nd4j equivalent.
    """
    a = np.asanyarray(arr)
    name = _type_name(a.dtype)
    big, _ = _TYPES[name]
    shape = tuple(int(d) for d in a.shape)
    n = int(a.size)
    header = _header(shape, name, legacy_vector_strides)
    fileobj.write(header)
    written = len(header)
    if n == 0:
        return written
    flat = a.reshape(-1) if a.flags.c_contiguous else None
    if flat is not None:
        for start in range(0, n, _CHUNK_ELEMENTS):
            chunk = flat[start : start + _CHUNK_ELEMENTS].astype(big, copy=False)
            fileobj.write(memoryview(np.ascontiguousarray(chunk)).cast("B"))
            written += chunk.nbytes
        return written
    it = np.nditer(
        a,
        flags=["external_loop", "buffered", "zerosize_ok"],
        op_flags=[["readonly"]],
        op_dtypes=[np.dtype(big)],
        order="C",
        casting="equiv",
        buffersize=_CHUNK_ELEMENTS,
    )
    for chunk in it:
        fileobj.write(np.ascontiguousarray(chunk).tobytes())
        written += chunk.nbytes
    return written


# ----------------------------------------------------------------------------------------- reading


def _source(fileobj: Any, source: Any) -> str | None:
    if source is not None:
        return str(source)
    name = getattr(fileobj, "name", None)
    return str(name) if isinstance(name, (str, bytes)) or hasattr(name, "__fspath__") else None


def _read_exact(fileobj: BinaryIO, n: int, what: str, src: str | None) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    readinto = getattr(fileobj, "readinto", None)
    while got < n:
        if readinto is not None:
            k = readinto(view[got:])
        else:
            piece = fileobj.read(n - got)
            k = len(piece)
            view[got : got + k] = piece
        if not k:
            raise DL4JFileError(
                f"truncated Nd4j array while reading {what}", file=src, expected=f"{n} bytes", received=f"{got}"
            )
        got += k
    return buf


def _read_utf(fileobj: BinaryIO, what: str, src: str | None) -> str:
    (length,) = struct.unpack(">H", _read_exact(fileobj, 2, what, src))
    raw = _read_exact(fileobj, length, what, src)
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise DL4JFileError(f"not an Nd4j array: {what} is not text", file=src, received=bytes(raw[:32])) from None


def _read_header(fileobj: BinaryIO, what: str, src: str | None) -> tuple[str, int, str]:
    mode = _read_utf(fileobj, f"{what} allocation mode", src)
    if mode in _INT_LENGTH_MODES:
        (length,) = struct.unpack(">i", _read_exact(fileobj, 4, f"{what} length", src))
    elif mode in _LONG_LENGTH_MODES:
        (length,) = struct.unpack(">q", _read_exact(fileobj, 8, f"{what} length", src))
    else:
        raise DL4JFileError(
            f"not an Nd4j array: unknown allocation mode in {what}",
            file=src,
            expected="MIXED_DATA_TYPES, LONG_SHAPE, JAVACPP, HEAP or DIRECT",
            received=repr(mode[:40]),
        )
    dtype = _read_utf(fileobj, f"{what} data type", src)
    if length < 0:
        raise DL4JFileError(f"negative {what} length", file=src, received=length)
    return mode, length, dtype


def _is_standard(shape: tuple[int, ...], strides: tuple[int, ...], order: str) -> bool:
    """True when ``strides`` are the dense strides of ``shape`` (size-1 dimensions ignored)."""
    dims = list(zip(shape, strides))
    step = 1
    for d, s in reversed(dims) if order == "C" else dims:
        if d != 1 and s != step:
            return False
        step *= d
    return True


def read_array(fileobj: BinaryIO, *, source: Any = None) -> np.ndarray:
    """Read one ``Nd4j.write`` array (any format from DL4J 0.5.0 to M2.1).

    Stored strides and order are honoured, so permuted arrays written without ``dup`` come
    back with the right values.

    Args:
        fileobj: binary stream positioned at the array.
        source: file name for error messages (defaults to ``fileobj.name``).

    Returns:
        A native-endian numpy array of the stored shape (float32 for FLOAT, float64 for DOUBLE,
        float16 for HALF, ...).

    Raises:
        DL4JFileError: the stream is not an Nd4j array, is truncated or inconsistent.
    """
    src = _source(fileobj, source)
    _, info_len, info_type = _read_header(fileobj, "shape record", src)
    if info_type not in ("LONG", "INT"):
        raise DL4JFileError("not an Nd4j array: shape record type", file=src, expected="LONG or INT", received=info_type)
    if info_len < 4 or info_len > 2 * 32 + 4 or info_len % 2:
        raise DL4JFileError("not an Nd4j array: shape record length", file=src, expected="2*rank+4", received=info_len)
    fmt = ">%dq" % info_len if info_type == "LONG" else ">%di" % info_len
    info = struct.unpack(fmt, _read_exact(fileobj, struct.calcsize(fmt), "shape info", src))
    rank = info[0]
    if info_len != 2 * rank + 4:
        raise DL4JFileError("inconsistent shape info", file=src, expected=f"length {2 * rank + 4}", received=info_len)
    shape = tuple(int(d) for d in info[1 : 1 + rank])
    strides = tuple(int(s) for s in info[1 + rank : 1 + 2 * rank])
    order = info[-1]
    if any(d < 0 for d in shape) or order not in (_ORDER_C, _ORDER_F):
        raise DL4JFileError("invalid shape info", file=src, received=list(info))

    _, n, dtype_name = _read_header(fileobj, "data record", src)
    if dtype_name == "COMPRESSED":
        raise DL4JFileError("compressed Nd4j arrays are not supported", file=src, received=dtype_name)
    if dtype_name not in _TYPES:
        raise DL4JFileError("unsupported Nd4j data type", file=src, expected=sorted(_TYPES), received=dtype_name)
    big = np.dtype(_TYPES[dtype_name][0])
    buf = _read_exact(fileobj, n * big.itemsize, f"{n} {dtype_name} elements", src)
    data = np.frombuffer(buf, dtype=big)
    if big.byteorder == ">":
        data = data.byteswap(inplace=True).view(big.newbyteorder("="))

    size = int(np.prod(shape, dtype=np.int64)) if rank else 1
    if size == 0:
        return np.zeros(shape, dtype=data.dtype)
    if n < size:
        raise DL4JFileError("Nd4j array holds fewer elements than its shape", file=src, expected=size, received=n)
    if rank == 0:
        return data[:1].reshape(())
    if any(s < 0 for s in strides):
        raise DL4JFileError("negative strides are not supported", file=src, received=list(strides))
    last = sum((d - 1) * s for d, s in zip(shape, strides))
    if last >= n:
        raise DL4JFileError(
            "Nd4j array strides reach past its data", file=src, expected=f"< {n}", received=f"index {last}"
        )
    if order == _ORDER_C and _is_standard(shape, strides, "C"):
        return data[:size].reshape(shape)
    item = data.itemsize
    view = as_strided(data, shape=shape, strides=tuple(s * item for s in strides), writeable=False)
    return np.array(view, order="C")
