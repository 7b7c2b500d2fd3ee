"""The Python client against real `subwire listen` processes (see conftest.py)."""
from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import json
from pathlib import Path
from typing import Any

import msgpack
import pytest

import subwire
from conftest import ROOT, Listener, cli, run


@pytest.fixture(scope="session")
def carol(workdir: Path) -> Path:
    """A home with no listener: `subwire query` runs a transient peer from it."""
    home = workdir / "carol"
    cli(home, "init", "--hotkey-uri", "//Charlie", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1")
    return home


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def test_query_and_message_both_ways(alice: Listener, bob: Listener, carol: Path) -> None:
    async def main() -> None:
        async with await subwire.connect(alice.socket) as a, await subwire.connect(bob.socket) as b:
            assert (await a.id())["ss58"] == alice.ss58
            # Python -> another peer
            assert await a.query(bob.addr, "echo", {"x": 1, "b": b"\x00\x01"}, timeout=5) == {"x": 1, "b": b"\x00\x01"}
            big = bytes(range(256)) * 2048  # 512 KiB: above the bulk threshold; bob listens on QUIC only, so it stays there
            assert await a.query(bob.addr, "echo", big, timeout=10) == big
            assert await a.query(bob.addr, "echo", {"n": 2}, timeout=5, bulk=True) == {"n": 2}
            assert await a.query(bob.addr, "echo", big, timeout=10, bulk=False) == big
            mid = await a.message(bob.addr, "weights:ready", {"epoch": 7})
            line = bob.wait_line(lambda l: l.get("event") == "message" and l.get("id") == mid)
            assert line["from"] == alice.ss58 and line["payload"] == {"epoch": 7}

            # another peer -> a Python handler, with the verified caller
            @a.handler("score")
            async def score(body: Any, caller: subwire.Caller) -> Any:
                return {"for": caller.ss58, "peer": caller.peer_id, "netuid": caller.netuid, "uid": body["uid"]}
            await a.ready()
            r = await b.query(alice.addr, "score", {"uid": 3}, timeout=5)
            assert r["for"] == bob.ss58 and r["netuid"] == 42 and r["uid"] == 3 and r["peer"] == bob.info["peerId"]
            # the same from `subwire query` of another home (a transient Node peer)
            out = await asyncio.to_thread(cli, carol, "--json", "query", alice.addr, "score", '{"uid": 9}')
            reply = json.loads(out.stdout.strip().splitlines()[-1])
            assert reply["body"]["uid"] == 9 and reply["body"]["for"] != bob.ss58 and reply["from"] == alice.ss58

            # another peer's message -> the Python client as an event
            events = await a.subscribe(["message"])
            await b.message(alice.addr, "hello", {"n": 1})
            ev = await asyncio.wait_for(events.__anext__(), 10)
            assert ev.type == "message" and ev["action"] == "hello" and ev["from"] == bob.ss58 and ev["payload"] == {"n": 1}
            await events.close()
    run(main())


def test_streamed_reply_and_typed_errors_from_a_python_handler(alice: Listener, bob: Listener) -> None:
    async def main() -> None:
        async with await subwire.connect(alice.socket) as a, await subwire.connect(bob.socket) as b:
            @a.handler("shards")
            async def shards(body: Any, caller: subwire.Caller) -> Any:
                for i in range(body["n"]):  # more than the credit window of 16
                    yield {"i": i, "to": caller.ss58}

            @a.handler("denied")
            async def denied(body: Any, caller: subwire.Caller) -> Any:
                raise subwire.AccessDeniedError(f"{caller.ss58} may not")

            @a.handler("broken")
            async def broken(body: Any, caller: subwire.Caller) -> Any:
                raise ValueError("bad input")
            await a.ready()

            got = [c async for c in b.query_stream(alice.addr, "shards", {"n": 50}, timeout=10)]
            assert [c["i"] for c in got] == list(range(50)) and got[0]["to"] == bob.ss58
            with pytest.raises(subwire.AccessDeniedError) as e1:
                await b.query(alice.addr, "denied", None, timeout=5)
            assert e1.value.remote and bob.ss58 in e1.value.message
            with pytest.raises(subwire.RemoteHandlerError) as e2:
                await b.query(alice.addr, "broken", None, timeout=5)
            assert e2.value.remote_name == "ValueError" and e2.value.message == "bad input"
            with pytest.raises(subwire.UnknownRpcTypeError):
                await b.query(alice.addr, "nobody-serves-this", None, timeout=5)
    run(main())


def test_a_1_gib_file_from_python_arrives_with_equal_hash(alice: Listener, bob: Listener, workdir: Path) -> None:
    src = workdir / "big.bin"
    with open(src, "wb") as f:
        for _ in range(64):
            f.write(os.urandom(16 << 20))

    async def main() -> None:
        async with await subwire.connect(alice.socket) as a, await subwire.connect(bob.socket) as b:
            received = await b.subscribe(["file:received"])
            progress: list[subwire.Progress] = []
            r = await a.send_file(bob.ss58 if False else bob.addr, src, on_progress=progress.append)
            assert r["size"] == 1 << 30 and r["queued"] is False
            ev = await asyncio.wait_for(received.__anext__(), 60)
            assert ev["from"] == alice.ss58 and ev["size"] == 1 << 30 and ev["blake3"] == r["blake3"]
            byte_steps = [p.bytes for p in progress if p.phase == "bytes"]
            assert len(byte_steps) >= 3 and byte_steps == sorted(byte_steps) and byte_steps[-1] == 1 << 30
            assert sha256(ev["path"]) == sha256(src)
            os.unlink(ev["path"])
    try:
        run(main())
    finally:
        src.unlink()


def test_a_file_not_seen_before_leaves_at_once_unless_hash_first(alice: Listener, bob: Listener, workdir: Path) -> None:
    async def main() -> None:
        async with await subwire.connect(alice.socket) as a:
            for hash_first in (False, True):
                src = workdir / f"fresh-{hash_first}.bin"
                src.write_bytes(os.urandom(3 << 20))
                progress: list[subwire.Progress] = []
                r = await a.send_file(bob.addr, src, on_progress=progress.append, hash_first=hash_first)
                assert r["size"] == 3 << 20
                phases = [p.phase for p in progress]
                # streamed: the bytes first, never a hashing phase; hashed first: the hashing phase before any byte
                assert phases[0] == ("hashing" if hash_first else "bytes"), phases
                assert ("hashing" in phases) is hash_first
                src.unlink()
    run(main())


def test_events_arrive_in_order(alice: Listener, bob: Listener) -> None:
    async def main() -> None:
        async with await subwire.connect(alice.socket) as a, await subwire.connect(bob.socket) as b:
            events = await a.subscribe(["message", "file:received"])
            for i in range(30):
                await b.message(alice.addr, "step", {"i": i})
            seen = [(await asyncio.wait_for(events.__anext__(), 10))["payload"]["i"] for _ in range(30)]
            assert seen == list(range(30))
    run(main())


SLOW_HANDLER = textwrap.dedent("""
    import asyncio, sys
    sys.path.insert(0, sys.argv[2])
    import subwire
    async def main():
        c = await subwire.connect(sys.argv[1])
        @c.handler("slow")
        async def slow(body, caller):
            print("called", flush=True)
            await asyncio.sleep(120)
        await c.ready()
        print("ready", flush=True)
        await c.serve_forever()
    asyncio.run(main())
""")


def test_a_handler_client_killed_mid_request_fails_the_caller_at_once(alice: Listener, bob: Listener) -> None:
    child = subprocess.Popen([sys.executable, "-c", SLOW_HANDLER, alice.socket, str(ROOT / "clients" / "python")], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"

    async def main() -> None:
        async with await subwire.connect(bob.socket) as b:
            pending = asyncio.ensure_future(b.query(alice.addr, "slow", None, timeout=60))
            assert (await asyncio.to_thread(child.stdout.readline)).strip() == "called"  # type: ignore[union-attr]
            t0 = time.monotonic()
            child.kill()
            with pytest.raises(subwire.UnknownRpcTypeError) as e:
                await pending
            assert time.monotonic() - t0 < 5 and "went away" in e.value.message
            with pytest.raises(subwire.UnknownRpcTypeError):
                await b.query(alice.addr, "slow", None, timeout=5)
            assert await b.query(alice.addr, "echo", "still here", timeout=5) == "still here"
    try:
        run(main())
    finally:
        child.kill()
        child.wait()
    assert alice.running


def test_a_requesting_client_killed_mid_request_leaves_the_peer_running(alice: Listener, bob: Listener) -> None:
    script = textwrap.dedent("""
        import asyncio, sys
        sys.path.insert(0, sys.argv[2])
        import subwire
        async def main():
            c = await subwire.connect(sys.argv[1])
            print("sent", flush=True)
            await c.query(sys.argv[3], "nap", None, timeout=60)
        asyncio.run(main())
    """)

    async def main() -> None:
        async with await subwire.connect(bob.socket) as b:
            started = asyncio.Event()

            @b.handler("nap")
            async def nap(body: Any, caller: subwire.Caller) -> Any:
                started.set()
                await asyncio.sleep(60)
            await b.ready()
            child = subprocess.Popen([sys.executable, "-c", script, alice.socket, str(ROOT / "clients" / "python"), bob.addr], stdout=subprocess.PIPE, text=True)
            try:
                await asyncio.wait_for(started.wait(), 10)
                child.kill()
            finally:
                child.wait()
            async with await subwire.connect(alice.socket) as a:
                assert (await a.id())["ss58"] == alice.ss58
    run(main())
    assert alice.running


def raw_frames(path_or_addr: Any, frames: list[bytes], want: int) -> list[dict[str, Any]]:
    """Sends raw bytes on a fresh API connection and reads `want` frames back."""
    fam = socket.AF_UNIX if isinstance(path_or_addr, str) else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path_or_addr)
        for f in frames:
            s.sendall(f)
        unpacker = msgpack.Unpacker(raw=False)
        buf = b""
        out: list[dict[str, Any]] = []
        while len(out) < want:
            data = s.recv(65536)
            if not data:
                break
            buf += data
            while len(buf) >= 4 and len(buf) >= 4 + int.from_bytes(buf[:4], "big"):
                n = int.from_bytes(buf[:4], "big")
                out.append(msgpack.unpackb(buf[4:4 + n], raw=False))
                buf = buf[4 + n:]
        return out


def frame(value: Any) -> bytes:
    body = msgpack.packb(value, use_bin_type=True)
    return len(body).to_bytes(4, "big") + body


def test_the_tcp_api_refuses_a_missing_or_wrong_token(alice: Listener) -> None:
    host, port = alice.info["api"]["tcp"].rsplit(":", 1)
    addr = (host, int(port))
    token = (alice.home / "api.token").read_text().strip()
    assert (alice.home / "api.token").stat().st_mode & 0o777 == 0o600
    no_token = raw_frames(addr, [frame({"op": "hello", "id": 1, "version": 1}), frame({"op": "id", "id": 2})], 2)
    assert no_token[0]["t"] == "error" and no_token[0]["error"]["name"] == "ApiUnauthorizedError" and len(no_token) == 1

    async def main() -> None:
        with pytest.raises(subwire.ApiUnauthorizedError):
            await subwire.connect(address=f"{host}:{port}", token="0" * 64)
        async with await subwire.connect(address=f"{host}:{port}", token=token) as c:
            assert (await c.id())["ss58"] == alice.ss58
    run(main())

    req = urllib.request.Request(f"http://{host}:{port}/v1/id", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 401 and json.loads(e.value.read())["error"]["name"] == "ApiUnauthorizedError"
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert json.loads(r.read())["value"]["ss58"] == alice.ss58


def test_malformed_frames_and_unknown_operations_get_typed_errors_and_the_peer_goes_on(alice: Listener) -> None:
    hello = frame({"op": "hello", "id": 1, "version": 1})
    got = raw_frames(alice.socket, [hello, frame({"op": "no_such_op", "id": 2}), frame([1, 2]), b"\x00\x00\x00\x01\xc1", frame({"op": "id", "id": 3})], 5)
    assert got[0]["t"] == "result"
    assert got[1] == {"t": "error", "id": 2, "error": got[1]["error"]} and got[1]["error"]["name"] == "UnknownOperationError"
    assert got[2]["error"]["name"] == "ApiProtocolError" and got[3]["error"]["name"] == "ApiProtocolError"
    assert got[4]["t"] == "result" and got[4]["value"]["ss58"] == alice.ss58
    oversized = raw_frames(alice.socket, [hello, b"\x7f\xff\xff\xff"], 2)
    assert oversized[1]["error"]["name"] == "ApiProtocolError"
    assert alice.running


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None, reason="needs root to run a client as another user")
def test_another_user_is_refused_on_the_socket(alice: Listener) -> None:
    assert os.stat(alice.socket).st_mode & 0o777 == 0o600
    mode = alice.home.stat().st_mode & 0o777
    os.chmod(alice.home, 0o711)  # let nobody reach the socket: what refuses it is then the socket's own mode
    try:
        r = subprocess.run(["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c",
                            f"import socket; s = socket.socket(socket.AF_UNIX); s.connect({alice.socket!r}); print('connected')"],
                           capture_output=True, text=True, timeout=30)
    finally:
        os.chmod(alice.home, mode)
    assert r.returncode != 0 and "PermissionError" in r.stderr and "connected" not in r.stdout


def test_query_subnet_fans_out_with_a_result_per_member_and_a_summary(alice: Listener, bob: Listener) -> None:
    charlie = "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y"  # no address anywhere: a typed failure
    async def main() -> None:
        async with await subwire.connect(alice.socket) as a:
            await a.query(bob.addr, "echo", {}, timeout=5)  # Alice has dialled Bob: she can reach him by hotkey
            items = [r async for r in a.query_subnet(42, "echo", {"x": 1}, timeout=3, members=[bob.ss58, charlie])]
            results, summary = items[:-1], items[-1]
            by = {r["ss58"]: r for r in results}
            assert by[bob.ss58]["ok"] is True and by[bob.ss58]["body"] == {"x": 1}
            assert by[charlie]["ok"] is False and by[charlie]["reason"] == "unreachable"
            assert isinstance(by[charlie]["error"], subwire.SubwireError)
            assert summary["summary"] is True and summary["members"] == 2 and summary["answered"] == 1
            acks = [r async for r in a.message_subnet(42, "note", {"n": 1}, timeout=3, members=[bob.ss58])]
            assert acks[0]["ok"] is True and acks[-1]["answered"] == 1
            bob.wait_line(lambda l: l.get("event") == "message" and l.get("action") == "note")
    run(main())


def test_query_subnet_streams_each_result_as_it_arrives_and_a_dead_member_is_a_typed_failure(alice: Listener, bob: Listener, workdir: Path) -> None:
    dave = Listener(workdir / "dave", "//Dave", [])  # answers at once
    erin = Listener(workdir / "erin", "//Eve", [])  # reached once, then stopped: a dead member
    try:
        async def main() -> None:
            async with await subwire.connect(alice.socket) as a, await subwire.connect(bob.socket) as b, await subwire.connect(dave.socket) as d:
                @b.handler("work")
                async def slow(body: Any, caller: subwire.Caller) -> Any:
                    await asyncio.sleep(2)
                    return {"by": "bob"}

                @d.handler("work")
                async def fast(body: Any, caller: subwire.Caller) -> Any:
                    return {"by": "dave"}
                await b.ready()
                await d.ready()
                for l in (bob, dave, erin):  # Alice dials each once: she can reach them by hotkey
                    await a.query(l.addr, "echo", {}, timeout=5)
                erin.stop()
                t0 = time.monotonic()
                arrivals: list[tuple[float, dict[str, Any]]] = []
                async for item in a.query_subnet(42, "work", {}, timeout=5, members=[bob.ss58, dave.ss58, erin.ss58]):
                    arrivals.append((time.monotonic() - t0, item))
                results, (t_end, summary) = arrivals[:-1], arrivals[-1]
                by = {r["ss58"]: (t, r) for t, r in results}
                assert len(results) == 3 and set(by) == {bob.ss58, dave.ss58, erin.ss58}
                t_dave, r_dave = by[dave.ss58]
                t_bob, r_bob = by[bob.ss58]
                assert r_dave["ok"] is True and r_dave["body"] == {"by": "dave"}
                assert r_bob["ok"] is True and r_bob["body"] == {"by": "bob"} and r_bob["ms"] >= 1900
                # streamed: the fast member's result came while the slow one was still working, not with the summary
                assert t_dave < t_bob - 1, (t_dave, t_bob)
                _, r_erin = by[erin.ss58]
                assert r_erin["ok"] is False and r_erin["reason"] in ("unreachable", "timeout"), r_erin
                assert isinstance(r_erin["error"], subwire.SubwireError)
                assert summary["summary"] is True and summary["members"] == 3 and summary["answered"] == 2
                assert sum(summary["failed"].values()) == 1 and t_end < 5 + 1.5, t_end
        run(main())
    finally:
        dave.stop()
        erin.stop()


def test_the_sync_facade(alice: Listener, bob: Listener) -> None:
    from subwire.sync import connect
    with connect(path=alice.socket) as c:
        assert c.id()["ss58"] == alice.ss58
        assert c.query(bob.addr, "echo", [1, 2], timeout=5) == [1, 2]


def test_many_requests_in_flight_on_one_connection(alice: Listener, bob: Listener) -> None:
    async def main() -> None:
        async with await subwire.connect(alice.socket) as a:
            replies = await asyncio.gather(*(a.query(bob.addr, "echo", i, timeout=10) for i in range(500)))
            assert replies == list(range(500))
    run(main())
