"""The bittensor axon stack as a baseline: FastAPI + uvicorn (Debian's python3-fastapi and
python3-uvicorn), one HTTP/1.1 JSON endpoint that verifies a per-request signature the way
an axon checks a dendrite: headers carry the caller's hotkey, a nonce, a uuid, the body hash
and the signature over "nonce.caller.axon.uuid.body_hash"; the body carries the payload in
base64. Debian packages no sr25519, so the signature is ed25519 (python3-nacl).

Usage: /usr/bin/python3 bench/lib/axon.py  -> prints {"addr": "127.0.0.1:PORT", "pid": N}
"""
import hashlib
import json
import os
import socket
import sys
import time
from collections import deque

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

AXON_HOTKEY = "axon-bench"
app = FastAPI()
# replay protection as recent axons do it: a nonce must be recent (4 s window) and unseen
seen = set()
order = deque()
WINDOW_NS = 4_000_000_000


@app.post("/Echo")
async def echo(request: Request):
    h = request.headers
    caller = h.get("bt_header_dendrite_hotkey", "")
    nonce = int(h.get("bt_header_dendrite_nonce", "0"))
    uuid = h.get("bt_header_dendrite_uuid", "")
    signature = bytes.fromhex(h.get("bt_header_dendrite_signature", ""))
    body = await request.json()
    payload = body.get("payload", "")
    body_hash = hashlib.sha3_256(payload.encode()).hexdigest()
    if body_hash != h.get("computed_body_hash"):
        raise HTTPException(status_code=400, detail="body hash mismatch")
    now = time.time_ns()
    while order and order[0][0] < now - WINDOW_NS:
        seen.discard(order.popleft()[1])
    if nonce < now - WINDOW_NS or (caller, nonce) in seen:
        raise HTTPException(status_code=401, detail="stale or replayed nonce")
    message = f"{nonce}.{caller}.{AXON_HOTKEY}.{uuid}.{body_hash}".encode()
    try:
        VerifyKey(bytes.fromhex(caller)).verify(message, signature)
    except (BadSignatureError, ValueError):
        raise HTTPException(status_code=401, detail="bad signature")
    seen.add((caller, nonce))
    order.append((now, (caller, nonce)))
    return JSONResponse({"payload": payload})


@app.on_event("startup")
async def ready():
    sys.stdout.write(json.dumps({"addr": f"127.0.0.1:{PORT}", "pid": os.getpid()}) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    PORT = s.getsockname()[1]
    s.close()
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning", access_log=False)
