"""Frames of the subwire local API: a u32 big-endian length, then one MessagePack map.

The same framing as the subwire wire protocol; a length above MAX_FRAME_BYTES is refused
at the header, before the body is buffered. MessagePack is ``python3-msgpack``'s C
extension when it is importable, else the pure-Python codec in ``_msgpack_py`` (slower,
for a virtual environment without the system's packages).
"""
from __future__ import annotations

import struct
from typing import Any, Callable

try:
    import msgpack as _msgpack
except ImportError:  # pragma: no cover - exercised by the fresh-venv test
    _msgpack = None

#: Largest frame either side accepts (16 MiB body plus room for the operation's fields).
MAX_FRAME_BYTES = 16 * 1024 * 1024 + 64 * 1024

#: Which MessagePack codec frames use: ``"msgpack"`` (C) or ``"pure-python"``.
CODEC = "msgpack" if _msgpack is not None else "pure-python"

_header = struct.Struct(">I")
_pack_header = _header.pack
_unpack_header = _header.unpack_from

_packb: Callable[[Any], bytes]
_unpackb: Callable[[Any], Any]
if _msgpack is not None:
    _packer = _msgpack.Packer(use_bin_type=True)
    _packb = _packer.pack
    _unpackb_c = _msgpack.unpackb

    def _unpackb(data: Any) -> Any:
        return _unpackb_c(data, raw=False, strict_map_key=False)
else:
    from . import _msgpack_py
    _packb = _msgpack_py.packb
    _unpackb = _msgpack_py.unpackb


class FrameTooLarge(Exception):
    """A header declared a frame above MAX_FRAME_BYTES."""


def encode(frame: dict[str, Any]) -> bytes:
    """One frame: header and MessagePack body."""
    body = _packb(frame)
    n = len(body)
    if n > MAX_FRAME_BYTES:
        raise ValueError(f"frame of {n} bytes exceeds the maximum of {MAX_FRAME_BYTES}")
    return _pack_header(n) + body


def decode_body(body: Any) -> Any:
    """One frame's MessagePack body."""
    return _unpackb(body)


class Decoder:
    """Incremental decoder: feed bytes, get the complete frames."""

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_frame_bytes

    def feed(self, data: bytes) -> list[Any]:
        buf = self._buf
        if buf:
            buf += data
            if len(buf) >= 4:
                need = _unpack_header(buf, 0)[0]
                if need > self._max:
                    raise FrameTooLarge(f"frame header declares {need} bytes, above {self._max}")
                if len(buf) < 4 + need:
                    return []  # a large frame still arriving: no copy until it is whole
            else:
                return []
            data = bytes(buf)
            buf.clear()
        frames: list[Any] = []
        off = 0
        n = len(data)
        mx = self._max
        while n - off >= 4:
            length = _unpack_header(data, off)[0]
            if length > mx:
                raise FrameTooLarge(f"frame header declares {length} bytes, above {mx}")
            start = off + 4
            end = start + length
            if end > n:
                break
            frames.append(_unpackb(data[start:end]))
            off = end
        if off < n:
            buf += data[off:] if off else data
        return frames
