"""Frames of the subwire local API: a u32 big-endian length, then one MessagePack map.

The same framing as the subwire wire protocol; a length above MAX_FRAME_BYTES is refused
at the header, before the body is buffered.
"""
from __future__ import annotations

from typing import Any

import msgpack

#: Largest frame either side accepts (16 MiB body plus room for the operation's fields).
MAX_FRAME_BYTES = 16 * 1024 * 1024 + 64 * 1024

_packer_opts = {"use_bin_type": True}


def encode(frame: dict[str, Any]) -> bytes:
    """One frame: header and MessagePack body."""
    body = msgpack.packb(frame, **_packer_opts)
    if len(body) > MAX_FRAME_BYTES:
        raise ValueError(f"frame of {len(body)} bytes exceeds the maximum of {MAX_FRAME_BYTES}")
    return len(body).to_bytes(4, "big") + body


class FrameTooLarge(Exception):
    """A header declared a frame above MAX_FRAME_BYTES."""


class Decoder:
    """Incremental decoder: feed bytes, get the complete frames."""

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_frame_bytes

    def feed(self, data: bytes) -> list[Any]:
        buf = self._buf
        buf += data
        frames: list[Any] = []
        off = 0
        n = len(buf)
        view = memoryview(buf)
        try:
            while n - off >= 4:
                length = int.from_bytes(view[off:off + 4], "big")
                if length > self._max:
                    raise FrameTooLarge(f"frame header declares {length} bytes, above {self._max}")
                if n - off - 4 < length:
                    break
                frames.append(msgpack.unpackb(view[off + 4:off + 4 + length], raw=False, strict_map_key=False))
                off += 4 + length
        finally:
            view.release()
        if off:
            del buf[:off]
        return frames
