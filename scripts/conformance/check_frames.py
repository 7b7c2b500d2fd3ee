#!/usr/bin/env python3
"""Strict check of subwire frames against docs/PROTOCOL.md, outside our own code.

Input: a JSON file, a list of items, each with "hex":
- {"what": "wire", "protocol": "auth" | "rpc" | "msg" | "file", "hex"}: bytes as written
  to one stream (or one vector's "frame"): whole frames, each a u32 big-endian body
  length then the MessagePack body. The length is checked against the protocol's frame
  limit, nothing may be left over, and each frame must be of a kind that protocol carries;
- {"what": "frame", "hex"}: one frame body without its header, protocol unknown;
- {"what": "sealed", "purpose": n, "hex"}: the MessagePack plaintext of an AEAD, by HKDF
  purpose (4: a file or folder manifest);
- {"what": "value", "hex"}: one MessagePack value of application data (the dialect vectors).

Each body is decoded by Debian's python3-msgpack with strict_map_key, no extension hook (an
extension or a timestamp fails) and checked field by field: every field the spec lists
with its type (an integer field must be an int, never a float) and limits, and no field
the spec does not list.

Output (stdout): JSON {"errors": [...], "kinds": {kind: count}, "offers": [sizes], "frames": n}.
Exit 1 if any item fails.
"""
import json
import sys

import msgpack


class Reject(Exception):
    pass


KiB = 1024
MiB = 1024 * KiB
# frame limits by protocol, checked at the 4-byte header (PROTOCOL.md, "Frames" and the limits table)
FRAME_LIMIT = {'auth': 8 * KiB, 'rpc': 16 * MiB, 'msg': 16 * MiB, 'file': 16 * MiB + 64 * KiB}
MAX_NAME = 256           # RPC type, error name: UTF-8 bytes
MAX_MESSAGE = 64 * KiB   # error message: UTF-8 bytes
MAX_MESSAGE_ID = 128     # k 0 `m`
MAX_TRANSFER_ID = 64     # manifest and folder `id`
MAX_FILE_NAME = 4096     # manifest `name` on the wire
MIN_CS, MAX_CS = 64 * KiB, 4 * MiB
MAX_CREDIT = 1024        # file `credit` n
MAX_FOLDER_ENTRIES = 10_000


def no_ext(code, data):
    raise Reject(f'extension type {code} ({len(data)} bytes)')


def decode(raw):
    return msgpack.unpackb(raw, raw=False, strict_map_key=True, ext_hook=no_ext,
                           timestamp=0, use_list=True)


def walk_plain(v, path):
    """Application data: any MessagePack value but no extension, no timestamp, str keys."""
    if isinstance(v, msgpack.Timestamp):
        raise Reject(f'{path}: timestamp extension')
    if isinstance(v, float):
        raise Reject(f'{path}: float {v!r} (the test payloads hold integers only)')
    if isinstance(v, dict):
        for k, x in v.items():
            if not isinstance(k, str):
                raise Reject(f'{path}: non-string map key {k!r}')
            walk_plain(x, f'{path}.{k}')
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk_plain(x, f'{path}[{i}]')


def is_uint(v):
    return type(v) is int and v >= 0


def utf8_len(s):
    return len(s.encode('utf-8'))


def check_str(v, path, lo=0, hi=None):
    if type(v) is not str:
        raise Reject(f'{path}: expected str, got {type(v).__name__}')
    n = utf8_len(v)
    if n < lo or (hi is not None and n > hi):
        raise Reject(f'{path}: {n} UTF-8 bytes, the spec allows {lo} to {hi}')


def check_type(t, v, path):
    if t == 'uint':
        if not is_uint(v):
            raise Reject(f'{path}: expected an unsigned integer, got {type(v).__name__} {v!r}')
    elif t == 'str':
        check_str(v, path)
    elif t.startswith('bin'):
        if type(v) is not bytes:
            raise Reject(f'{path}: expected bin, got {type(v).__name__}')
        if t != 'bin' and len(v) != int(t[3:]):
            raise Reject(f'{path}: expected {t[3:]} bytes, got {len(v)}')
    elif t == 'true' or t == 'false':
        if v is not (t == 'true'):
            raise Reject(f'{path}: expected {t}')
    elif t == 'bool':
        if type(v) is not bool:
            raise Reject(f'{path}: expected bool')
    elif t == 'any':
        walk_plain(v, path)
    elif t == 'addrs':
        if type(v) is not list or not all(type(a) is str and a.startswith('/') and len(a) < 512 for a in v):
            raise Reject(f'{path}: expected a list of multiaddr strings')
    elif t == 'error':
        check_map(v, {'name': 'str', 'message': 'str'}, {'netuid': 'uint'}, path)
        check_str(v['name'], f'{path}.name', 1, MAX_NAME)
        check_str(v['message'], f'{path}.message', 0, MAX_MESSAGE)
    elif t == 'envelope':
        check_map(v, {'ek': 'bin32', 'rk': 'bin32', 'c': 'bin'}, {}, path)
    elif t == 'manifest':
        check_manifest(v, path)
    elif t == 'folderref':
        check_map(v, {'id': 'str', 'i': 'uint'}, {}, path)
        check_str(v['id'], f'{path}.id', 1, MAX_TRANSFER_ID)
        if v['i'] >= MAX_FOLDER_ENTRIES:
            raise Reject(f'{path}.i: entry index {v["i"]} beyond the folder limit')
    elif t == 'folder':
        check_folder(v, path)
    else:
        raise AssertionError(t)


def check_map(v, required, optional, path):
    if type(v) is not dict:
        raise Reject(f'{path}: expected a map')
    for k, t in required.items():
        if k not in v:
            raise Reject(f'{path}: missing field {k!r}')
        check_type(t, v[k], f'{path}.{k}')
    for k, x in v.items():
        if k in required:
            continue
        if k not in optional:
            raise Reject(f'{path}: field {k!r} is not in the spec')
        if x is not None:
            check_type(optional[k], x, f'{path}.{k}')


MANIFEST = {'id': 'str', 'name': 'str', 'size': 'uint', 'cs': 'uint', 'h': 'bin', 'r': 'bin32'}
# only a folder's entry carries `f`: {id: folder id, i: entry index}
MANIFEST_OPTIONAL = {'f': 'folderref'}
# a folder manifest: `e` lists [path, size, file root] per file, `r` is the folder root
FOLDER = {'id': 'str', 'name': 'str', 'e': 'entries', 'r': 'bin32'}
HELLO = {'v': 'uint', 'a': 'bin', 's': 'bin64', 'addrs': 'addrs', 'mc': 'uint'}


def check_manifest(v, path):
    check_map(v, MANIFEST, MANIFEST_OPTIONAL, path)
    check_str(v['id'], f'{path}.id', 1, MAX_TRANSFER_ID)
    check_str(v['name'], f'{path}.name', 0, MAX_FILE_NAME)
    cs = v['cs']
    if not MIN_CS <= cs <= MAX_CS:
        raise Reject(f'{path}.cs: {cs} outside {MIN_CS}-{MAX_CS}')
    chunks = -(-v['size'] // cs)
    if len(v['h']) != chunks * 32:
        raise Reject(f'{path}.h: {len(v["h"])} bytes, the spec says {chunks} x 32')


def check_folder(v, path):
    if type(v) is not dict:
        raise Reject(f'{path}: expected a map')
    entries = v.get('e')
    if type(entries) is not list or not 1 <= len(entries) <= MAX_FOLDER_ENTRIES:
        raise Reject(f'{path}.e: expected an array of 1 to {MAX_FOLDER_ENTRIES} entries')
    for i, e in enumerate(entries):
        if type(e) is not list or len(e) != 3:
            raise Reject(f'{path}.e[{i}]: expected [path, size, root]')
        check_str(e[0], f'{path}.e[{i}].path', 1, 1024)
        check_type('uint', e[1], f'{path}.e[{i}].size')
        check_type('bin32', e[2], f'{path}.e[{i}].root')
    check_map({k: x for k, x in v.items() if k != 'e'}, {'id': 'str', 'name': 'str', 'r': 'bin32'}, {}, path)
    check_str(v['id'], f'{path}.id', 1, MAX_TRANSFER_ID)
    check_str(v['name'], f'{path}.name', 0, MAX_FILE_NAME)


# RPC and messages, by k: (required, optional)
RPC = {
    0: ({'id': 'uint', 't': 'str'}, {'b': 'any', 'x': 'envelope', 'to': 'uint', 's': 'uint', 'm': 'str'}),
    1: ({'id': 'uint'}, {}),
    2: ({'id': 'uint'}, {'b': 'any', 'x': 'bin'}),
    3: ({'id': 'uint', 'e': 'error'}, {}),
    4: ({'id': 'uint'}, {'b': 'any', 'x': 'bin'}),
    5: ({'id': 'uint'}, {'x': 'bin'}),
    6: ({'id': 'uint', 'n': 'uint'}, {}),
    7: ({'e': 'error'}, {}),
}

# file streams, by k: (required, optional). A folder's frames travel on a file stream too.
FILES = {
    'offer': ({}, {'m': 'manifest', 'id': 'str', 'x': 'envelope'}),
    'accept': ({'from': 'uint', 'w': 'uint'}, {'ek': 'bin32'}),
    'refuse': ({'e': 'error'}, {}),
    'chunk': ({'i': 'uint', 'd': 'bin'}, {}),
    'credit': ({'n': 'uint'}, {'at': 'uint'}),
    'done': ({'r': 'bin32'}, {'dup': 'bool'}),
    'cancel': ({'e': 'error'}, {}),
    'folder': ({}, {'m': 'folder', 'id': 'str', 'x': 'envelope'}),
    'wait': ({}, {}),
    'end': ({}, {}),
}


def check_handshake(v):
    if v.get('ok') is False:
        check_map(v, {'ok': 'false', 'e': 'error'}, {}, 'refusal')
        return 'auth:refusal'
    if 'ok' in v:
        check_map(v, {**HELLO, 'ok': 'true'}, {}, 'reply')
        kind = 'auth:reply'
    else:
        check_map(v, HELLO, {}, 'hello')
        kind = 'auth:hello'
    if v['v'] != 1:
        raise Reject(f'{kind}: v must be 1')
    if len(v['a']) > 4096:
        raise Reject(f'{kind}: attestation longer than 4096 bytes')
    if v['mc'] > 1_000_000:
        raise Reject(f'{kind}: mc above 1,000,000')
    return kind


def check_rpc(v, k):
    if k not in RPC:
        raise Reject(f'unknown RPC kind {k}')
    req, opt = RPC[k]
    check_map(v, {'k': 'uint', **req}, opt, f'rpc k={k}')
    if k == 0:
        if ('b' in v) and ('x' in v):
            raise Reject('request with both b and x')
        check_str(v['t'], 'rpc k=0.t', 1, MAX_NAME)
        if v.get('m') is not None:
            check_str(v['m'], 'rpc k=0.m', 0, MAX_MESSAGE_ID)
        if v.get('s') not in (None, 1):
            raise Reject('rpc k=0.s: 1 or absent')
    return f'rpc:{k}' + (':x' if 'x' in v else '') + (':s' if v.get('s') == 1 else '')


def check_file(v, k):
    if k not in FILES:
        raise Reject(f'unknown file frame {k!r}')
    if k == 'accept' and set(v) == {'k'}:
        return 'file:accept:folder'  # a folder's accept: { k: 'accept' } alone
    req, opt = FILES[k]
    check_map(v, {'k': 'str', **req}, opt, f'file {k}')
    if k in ('offer', 'folder'):
        if ('m' in v) == ('x' in v) or (('x' in v) != ('id' in v)):
            raise Reject(f'{k}: either m, or id and x')
        if 'id' in v:
            check_str(v['id'], f'file {k}.id', 1, MAX_TRANSFER_ID)
        kind = f'file:{k}' + (':x' if 'x' in v else '')
        if k == 'offer' and v.get('m') is not None and v['m'].get('f') is not None:
            kind += ':f'
        return kind
    if k == 'accept':
        if 'ek' in v:
            return 'file:accept:ek'
    if k == 'credit' and v['n'] > MAX_CREDIT:
        raise Reject(f'file credit: n above {MAX_CREDIT}')
    if k == 'done' and v.get('dup') is True:
        return 'file:done:dup'
    return f'file:{k}'


def check_frame(v, protocol=None):
    """Returns the frame's kind name; with a protocol, only a kind that protocol carries."""
    if type(v) is not dict:
        raise Reject('a frame is a map')
    if 'k' not in v:
        if protocol not in (None, 'auth'):
            raise Reject(f'a handshake frame on a {protocol} stream')
        return check_handshake(v)
    if protocol == 'auth':
        raise Reject('a frame with k on the auth stream')
    k = v['k']
    if is_uint(k):
        if protocol == 'file' and k != 7:
            raise Reject(f'RPC kind {k} on a file stream (only the refusal k 7 is)')
        return check_rpc(v, k)
    if type(k) is str:
        if protocol in ('rpc', 'msg'):
            raise Reject(f'file frame {k!r} on a {protocol} stream')
        return check_file(v, k)
    raise Reject(f'k is neither an integer nor a string: {k!r}')


def split_frames(raw, protocol):
    """The frame bodies of bytes written to one stream, each length checked at its header."""
    limit = FRAME_LIMIT[protocol]
    at = 0
    while at < len(raw):
        if len(raw) - at < 4:
            raise Reject(f'{len(raw) - at} bytes left over after the last frame')
        n = int.from_bytes(raw[at:at + 4], 'big')
        if n > limit:
            raise Reject(f'frame of {n} bytes above the {protocol} limit of {limit}')
        if at + 4 + n > len(raw):
            raise Reject(f'a frame of {n} bytes cut off after {len(raw) - at - 4}')
        yield raw[at + 4:at + 4 + n]
        at += 4 + n


def check_sealed(v, purpose):
    if purpose == 4:
        if type(v) is dict and 'e' in v:
            check_folder(v, 'sealed folder manifest')
            return 'sealed:4:folder', None
        check_manifest(v, 'sealed manifest')
        return 'sealed:4' + (':f' if v.get('f') is not None else ''), v['size']
    walk_plain(v, f'sealed purpose {purpose}')
    return f'sealed:{purpose}', None


def main(path):
    items = json.load(open(path))
    errors = []
    kinds = {}
    offers = []
    frames = 0

    def count(kind):
        kinds[kind] = kinds.get(kind, 0) + 1

    def frame_offer(v):
        if type(v.get('m')) is dict and v.get('k') == 'offer':
            offers.append(v['m']['size'])

    for n, item in enumerate(items):
        raw = bytes.fromhex(item['hex'])
        at = None
        try:
            what = item['what']
            if what == 'wire':
                protocol = item['protocol']
                if protocol not in FRAME_LIMIT:
                    raise Reject(f'unknown protocol {protocol!r}')
                at = 0
                for body in split_frames(raw, protocol):
                    v = decode(body)
                    count(check_frame(v, protocol))
                    frame_offer(v)
                    frames += 1
                    at += 1
            elif what == 'frame':
                v = decode(raw)
                count(check_frame(v))
                frame_offer(v)
                frames += 1
            elif what == 'sealed':
                kind, size = check_sealed(decode(raw), item['purpose'])
                count(kind)
                if size is not None:
                    offers.append(size)
            elif what == 'value':
                walk_plain(decode(raw), 'value')
                count('value')
            else:
                raise Reject(f'unknown item {what!r}')
        except Exception as e:  # noqa: BLE001 - every failure is reported with its item
            err = {'n': n, 'what': item.get('what'), 'error': f'{type(e).__name__}: {e}', 'hex': item['hex'][:200]}
            if at is not None:
                err['frame'] = at
            if 'label' in item:
                err['label'] = item['label']
            errors.append(err)
    json.dump({'errors': errors, 'kinds': kinds, 'offers': offers, 'frames': frames}, sys.stdout)
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
