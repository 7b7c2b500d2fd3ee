#!/usr/bin/env python3
"""Strict check of captured subwire frames against docs/PROTOCOL.md, outside our own code.

Input: a JSON file, a list of {"what": "frame" | "sealed", "purpose": n, "hex": "..."}
(a frame body as sent, without its 4-byte header; or the MessagePack plaintext of an
AEAD, by HKDF purpose). Each is decoded by Debian's python3-msgpack with
strict_map_key, no extension hook (an extension or a timestamp fails) and checked field
by field: every field the spec lists with its type (an integer field must be an int,
never a float), and no field the spec does not list.

Output (stdout): JSON {"errors": [...], "kinds": {kind: count}, "offers": [sizes]}.
Exit 1 if any frame fails.
"""
import json
import sys

import msgpack


class Reject(Exception):
    pass


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


def check_type(t, v, path):
    if t == 'uint':
        if not is_uint(v):
            raise Reject(f'{path}: expected an unsigned integer, got {type(v).__name__} {v!r}')
    elif t == 'str':
        if type(v) is not str:
            raise Reject(f'{path}: expected str, got {type(v).__name__}')
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
    elif t == 'envelope':
        check_map(v, {'ek': 'bin32', 'rk': 'bin32', 'c': 'bin'}, {}, path)
    elif t == 'manifest':
        check_map(v, MANIFEST, {}, path)
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
HELLO = {'v': 'uint', 'a': 'bin', 's': 'bin64', 'addrs': 'addrs', 'mc': 'uint'}

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

FILES = {
    'offer': ({}, {'m': 'manifest', 'id': 'str', 'x': 'envelope'}),
    'accept': ({'from': 'uint', 'w': 'uint'}, {'ek': 'bin32'}),
    'refuse': ({'e': 'error'}, {}),
    'chunk': ({'i': 'uint', 'd': 'bin'}, {}),
    'credit': ({'n': 'uint'}, {'at': 'uint'}),
    'done': ({'r': 'bin32'}, {'dup': 'bool'}),
    'cancel': ({'e': 'error'}, {}),
}


def check_frame(v):
    """Returns the frame's kind name."""
    if type(v) is not dict:
        raise Reject('a frame is a map')
    if 'k' not in v:
        # the handshake: hello, hello + ok, or a refusal
        if v.get('ok') is False:
            check_map(v, {'ok': 'false', 'e': 'error'}, {}, 'refusal')
            return 'auth:refusal'
        if 'ok' in v:
            check_map(v, {**HELLO, 'ok': 'true'}, {}, 'reply')
            return 'auth:reply'
        check_map(v, HELLO, {}, 'hello')
        if v['v'] != 1:
            raise Reject('hello: v must be 1')
        return 'auth:hello'
    k = v['k']
    if is_uint(k):
        if k not in RPC:
            raise Reject(f'unknown RPC kind {k}')
        req, opt = RPC[k]
        check_map(v, {'k': 'uint', **req}, opt, f'rpc k={k}')
        if k == 0 and ('b' in v) and ('x' in v):
            raise Reject('request with both b and x')
        return f'rpc:{k}' + (':x' if 'x' in v else '') + (':s' if v.get('s') == 1 else '')
    if type(k) is str:
        if k not in FILES:
            raise Reject(f'unknown file frame {k!r}')
        req, opt = FILES[k]
        check_map(v, {'k': 'str', **req}, opt, f'file {k}')
        if k == 'offer':
            if ('m' in v) == ('x' in v) or (('x' in v) != ('id' in v)):
                raise Reject('offer: either m, or id and x')
            return 'file:offer:x' if 'x' in v else 'file:offer'
        if k == 'accept' and 'ek' in v:
            return 'file:accept:ek'
        if k == 'done' and v.get('dup') is True:
            return 'file:done:dup'
        return f'file:{k}'
    raise Reject(f'k is neither an integer nor a string: {k!r}')


def main(path):
    items = json.load(open(path))
    errors = []
    kinds = {}
    offers = []
    for n, item in enumerate(items):
        raw = bytes.fromhex(item['hex'])
        try:
            v = decode(raw)
            if item['what'] == 'frame':
                kind = check_frame(v)
                if kind.startswith('file:offer') and 'm' in v:
                    offers.append(v['m']['size'])
            else:
                purpose = item['purpose']
                if purpose == 4:
                    check_type('manifest', v, 'sealed manifest')
                    offers.append(v['size'])
                else:
                    walk_plain(v, f'sealed purpose {purpose}')
                kind = f'sealed:{purpose}'
            kinds[kind] = kinds.get(kind, 0) + 1
        except Exception as e:  # noqa: BLE001 - every failure is reported with its frame
            errors.append({'n': n, 'what': item['what'], 'error': f'{type(e).__name__}: {e}', 'hex': item['hex'][:200]})
    json.dump({'errors': errors, 'kinds': kinds, 'offers': offers}, sys.stdout)
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
