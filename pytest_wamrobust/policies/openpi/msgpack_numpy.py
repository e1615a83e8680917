"""openpi's msgpack-numpy codec, written here because `openpi-client` pins numpy < 2.

Arrays travel as {b"__ndarray__": True, b"data", b"dtype", b"shape"} and numpy scalars
as {b"__npgeneric__": True, b"data", b"dtype"}, byte-for-byte what openpi sends.

Every frame comes from a peer we do not control, so decoding trusts nothing in it:
numpy builds an array from whatever dtype it is told, and an object dtype turns the
peer's bytes into pointers (one 60-byte frame segfaults the process). Only plain
numeric and bool dtypes are decoded, shapes and byte counts must agree, and a message
is at most `MAX_MESSAGE_BYTES`; anything else is one `ProtocolError` line.
"""

from __future__ import annotations

import math
from typing import Any

import msgpack
import numpy as np

#: The largest message either side accepts; websockets closes the connection (1009)
#: on a bigger one, so a peer cannot make us buffer without bound.
MAX_MESSAGE_BYTES = 64 * 2**20
#: numeric and bool dtype kinds; objects, voids, strings, datetimes and complex never travel.
_KINDS = "biuf"
_MAX_NDIM = 32
_MAX_DTYPE_CHARS = 32


class ProtocolError(ValueError):
    """A frame that is not a well-formed policy-protocol message; the text is one line."""


def _pack(obj: Any) -> Any:
    if isinstance(obj, (np.ndarray, np.generic)) and not _allowed(obj.dtype):
        raise ProtocolError(f"cannot send numpy dtype {obj.dtype} over the policy protocol; "
                            f"arrays must be numeric or bool")
    if isinstance(obj, np.ndarray):
        return {b"__ndarray__": True, b"data": obj.tobytes(), b"dtype": obj.dtype.str,
                b"shape": obj.shape}
    if isinstance(obj, np.generic):
        return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
    return obj


def _allowed(dtype: np.dtype) -> bool:
    return dtype.kind in _KINDS and dtype.fields is None and dtype.subdtype is None


def _dtype(text: Any) -> np.dtype:
    if not isinstance(text, str) or len(text) > _MAX_DTYPE_CHARS:
        raise ProtocolError(f"dtype must be a short string such as '<f4', got {_show(text)}")
    try:
        dtype = np.dtype(text)
    except (TypeError, ValueError):
        raise ProtocolError(f"dtype {text!r} is not a numpy dtype") from None
    if not _allowed(dtype):
        raise ProtocolError(f"dtype {text!r} is not allowed; arrays must be numeric or bool")
    return dtype


def _shape(value: Any) -> tuple[int, ...]:
    if (not isinstance(value, (list, tuple)) or len(value) > _MAX_NDIM
            or not all(type(n) is int and n >= 0 for n in value)):
        raise ProtocolError(f"shape must be a list of at most {_MAX_NDIM} non-negative "
                            f"integers, got {_show(value)}")
    return tuple(value)


def _array(obj: dict) -> np.ndarray:
    dtype, shape, data = _dtype(obj.get(b"dtype")), _shape(obj.get(b"shape")), obj.get(b"data")
    if not isinstance(data, bytes):
        raise ProtocolError(f"array data must be bytes, got {type(data).__name__}")
    if math.prod(n or 1 for n in shape) * dtype.itemsize > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"array of shape {_show(list(shape))} exceeds the message limit "
                            f"of {MAX_MESSAGE_BYTES} bytes")
    expected = math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        raise ProtocolError(f"array of shape {list(shape)} and dtype {dtype.str!r} needs "
                            f"{expected} bytes of data, got {len(data)}")
    return np.ndarray(buffer=data, dtype=dtype, shape=shape)


def _scalar(obj: dict) -> np.generic:
    dtype, value = _dtype(obj.get(b"dtype")), obj.get(b"data")
    fits = {"b": (bool,), "i": (int,), "u": (int,), "f": (int, float)}[dtype.kind]
    if not isinstance(value, fits) or (dtype.kind != "b" and isinstance(value, bool)):
        raise ProtocolError(f"a {dtype.str!r} scalar cannot hold {_show(value)}")
    try:
        return dtype.type(value)
    except OverflowError:
        raise ProtocolError(f"{value} is out of range for a {dtype.str!r} scalar") from None


def _unpack(obj: dict) -> Any:
    if b"__ndarray__" in obj:
        return _array(obj)
    if b"__npgeneric__" in obj:
        return _scalar(obj)
    return obj


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def packb(obj: Any) -> bytes:
    return msgpack.packb(obj, default=_pack)


def unpackb(data: Any) -> Any:
    """Decode one binary frame, or raise ProtocolError saying what is wrong with it."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        kind = "text" if isinstance(data, str) else type(data).__name__
        raise ProtocolError(f"expected a binary msgpack frame, got a {kind} frame")
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(data)} bytes exceeds the limit of "
                            f"{MAX_MESSAGE_BYTES} bytes")
    try:
        return msgpack.unpackb(data, object_hook=_unpack)
    except ProtocolError:
        raise
    except (ValueError, TypeError) as exc:  # msgpack's FormatError, ExtraData, StackError ...
        detail = str(exc).strip().splitlines()
        raise ProtocolError(f"not a msgpack message ({type(exc).__name__}"
                            f"{': ' + detail[0] if detail else ''})") from None
