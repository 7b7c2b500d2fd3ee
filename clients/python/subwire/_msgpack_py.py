"""A pure-Python MessagePack codec: what the API frames use when the ``msgpack`` package is
not importable (a fresh virtual environment without ``--system-site-packages``).

It covers the types the API sends: nil, booleans, integers (to 64 bits), floats, str,
bin, arrays and maps (ext types are refused). It is several times slower than
``python3-msgpack``'s C extension; install that (or ``pip install 'subwire[fast]'``) for speed.
"""
from __future__ import annotations

import struct
from typing import Any


class PackError(TypeError):
    """A value MessagePack cannot carry."""


class UnpackError(ValueError):
    """Bytes that are not one well-formed MessagePack value."""


def packb(obj: Any) -> bytes:
    out = bytearray()
    _pack(obj, out)
    return bytes(out)


def _pack(o: Any, out: bytearray) -> None:
    if o is None:
        out.append(0xC0)
    elif o is True:
        out.append(0xC3)
    elif o is False:
        out.append(0xC2)
    elif isinstance(o, int):
        if 0 <= o < 0x80:
            out.append(o)
        elif -32 <= o < 0:
            out.append(o & 0xFF)
        elif 0 <= o <= 0xFF:
            out += b"\xcc" + struct.pack(">B", o)
        elif 0 <= o <= 0xFFFF:
            out += b"\xcd" + struct.pack(">H", o)
        elif 0 <= o <= 0xFFFFFFFF:
            out += b"\xce" + struct.pack(">I", o)
        elif 0 <= o <= 0xFFFFFFFFFFFFFFFF:
            out += b"\xcf" + struct.pack(">Q", o)
        elif -0x80 <= o < 0:
            out += b"\xd0" + struct.pack(">b", o)
        elif -0x8000 <= o < 0:
            out += b"\xd1" + struct.pack(">h", o)
        elif -0x80000000 <= o < 0:
            out += b"\xd2" + struct.pack(">i", o)
        elif -0x8000000000000000 <= o < 0:
            out += b"\xd3" + struct.pack(">q", o)
        else:
            raise PackError(f"integer {o} does not fit 64 bits")
    elif isinstance(o, float):
        out += b"\xcb" + struct.pack(">d", o)
    elif isinstance(o, str):
        b = o.encode("utf-8")
        n = len(b)
        if n < 32:
            out.append(0xA0 | n)
        elif n <= 0xFF:
            out += b"\xd9" + struct.pack(">B", n)
        elif n <= 0xFFFF:
            out += b"\xda" + struct.pack(">H", n)
        else:
            out += b"\xdb" + struct.pack(">I", n)
        out += b
    elif isinstance(o, (bytes, bytearray, memoryview)):
        b = bytes(o)
        n = len(b)
        if n <= 0xFF:
            out += b"\xc4" + struct.pack(">B", n)
        elif n <= 0xFFFF:
            out += b"\xc5" + struct.pack(">H", n)
        else:
            out += b"\xc6" + struct.pack(">I", n)
        out += b
    elif isinstance(o, (list, tuple)):
        n = len(o)
        if n < 16:
            out.append(0x90 | n)
        elif n <= 0xFFFF:
            out += b"\xdc" + struct.pack(">H", n)
        else:
            out += b"\xdd" + struct.pack(">I", n)
        for x in o:
            _pack(x, out)
    elif isinstance(o, dict):
        n = len(o)
        if n < 16:
            out.append(0x80 | n)
        elif n <= 0xFFFF:
            out += b"\xde" + struct.pack(">H", n)
        else:
            out += b"\xdf" + struct.pack(">I", n)
        for k, v in o.items():
            _pack(k, out)
            _pack(v, out)
    else:
        raise PackError(f"can not serialize {type(o).__name__!r} object")


_FIXED = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q", 0xCA: ">f", 0xCB: ">d"}
_LEN = {0xC4: ">B", 0xC5: ">H", 0xC6: ">I", 0xD9: ">B", 0xDA: ">H", 0xDB: ">I", 0xDC: ">H", 0xDD: ">I", 0xDE: ">H", 0xDF: ">I"}


def unpackb(data: bytes | bytearray | memoryview) -> Any:
    b = bytes(data)
    value, off = _unpack(b, 0)
    if off != len(b):
        raise UnpackError(f"{len(b) - off} extra bytes after the value")
    return value


def _take(b: bytes, off: int, n: int) -> int:
    if off + n > len(b):
        raise UnpackError("truncated MessagePack value")
    return off + n


def _unpack(b: bytes, off: int) -> tuple[Any, int]:
    end = _take(b, off, 1)
    t = b[off]
    off = end
    if t < 0x80:
        return t, off
    if t >= 0xE0:
        return t - 0x100, off
    if 0xA0 <= t <= 0xBF:
        return _str(b, off, t & 0x1F)
    if 0x90 <= t <= 0x9F:
        return _array(b, off, t & 0x0F)
    if 0x80 <= t <= 0x8F:
        return _map(b, off, t & 0x0F)
    if t == 0xC0:
        return None, off
    if t == 0xC2:
        return False, off
    if t == 0xC3:
        return True, off
    fmt = _FIXED.get(t)
    if fmt is not None:
        size = struct.calcsize(fmt)
        end = _take(b, off, size)
        return struct.unpack_from(fmt, b, off)[0], end
    fmt = _LEN.get(t)
    if fmt is None:
        raise UnpackError(f"unsupported MessagePack type 0x{t:02x}")
    size = struct.calcsize(fmt)
    end = _take(b, off, size)
    n = struct.unpack_from(fmt, b, off)[0]
    off = end
    if t in (0xC4, 0xC5, 0xC6):
        end = _take(b, off, n)
        return b[off:end], end
    if t in (0xD9, 0xDA, 0xDB):
        return _str(b, off, n)
    if t in (0xDC, 0xDD):
        return _array(b, off, n)
    return _map(b, off, n)


def _str(b: bytes, off: int, n: int) -> tuple[str, int]:
    end = _take(b, off, n)
    try:
        return b[off:end].decode("utf-8"), end
    except UnicodeDecodeError as e:
        raise UnpackError(f"invalid UTF-8 in a str: {e}") from e


def _array(b: bytes, off: int, n: int) -> tuple[list[Any], int]:
    if n > len(b) - off:
        raise UnpackError("array longer than the bytes left")
    out = []
    for _ in range(n):
        v, off = _unpack(b, off)
        out.append(v)
    return out, off


def _map(b: bytes, off: int, n: int) -> tuple[dict[Any, Any], int]:
    if 2 * n > len(b) - off:
        raise UnpackError("map longer than the bytes left")
    out: dict[Any, Any] = {}
    for _ in range(n):
        k, off = _unpack(b, off)
        v, off = _unpack(b, off)
        if isinstance(k, (list, dict)):
            raise UnpackError("a map key must be hashable")
        out[k] = v
    return out, off
