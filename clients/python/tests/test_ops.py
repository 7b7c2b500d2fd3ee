"""The operations beyond RPC against real `subwire listen` processes: the outbox, queued and
joined files, cancelling a transfer, the address book, ACL and firewall edits, Python
message handlers, and the warning for a non-loopback `--api`."""
from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

import subwire
from conftest import Listener, run


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def unreachable(peer: Listener) -> str:
    """`peer`'s PeerId on a port nothing listens on: dials fail, items wait in the outbox."""
    return f"/ip4/127.0.0.1/udp/9/quic-v1/p2p/{peer.info['peerId']}"


async def next_event(stream: subwire.EventStream, pred: Any, timeout: float = 30) -> subwire.Event:
    async def find() -> subwire.Event:
        async for ev in stream:
            if pred(ev):
                return ev
        raise AssertionError("the event stream ended")
    return await asyncio.wait_for(find(), timeout)


@pytest.fixture(scope="module")
def dave(workdir: Path) -> Iterator[Listener]:
    """A peer of its own for the ACL tests (//Dave), so its rules touch no other test."""
    l = Listener(workdir / "dave-acl", "//Dave", [])
    yield l
    l.stop()


def test_outbox_list_retry_drop_and_a_joined_duplicate(alice: Listener, bob: Listener, workdir: Path) -> None:
    src = workdir / "queued.bin"
    src.write_bytes(os.urandom(256 << 10))

    async def main() -> None:
        async with await subwire.connect(alice.socket) as a:
            events = await a.subscribe(["queue:added", "queue:dropped"])
            dest = unreachable(bob)
            q = await a.send_file(dest, src, queue=True, wait=False)
            assert q["queued"] is True and q["joined"] is False and isinstance(q["id"], str)
            added = await next_event(events, lambda e: e.type == "queue:added")
            assert added["item"]["id"] == q["id"]
            # the same file to the same destination joins the waiting item
            again = await a.send_file(dest, src, queue=True, wait=False)
            assert again["id"] == q["id"] and again["joined"] is True
            items = {i["id"]: i for i in await a.outbox()}
            assert q["id"] in items and items[q["id"]]["kind"] == "file" and items[q["id"]]["size"] == 256 << 10
            assert items[q["id"]]["dest"] == dest
            # a queued message waits beside it
            mid = await a.message(dest, "later", {"n": 1}, queue=True)
            assert mid in {i["id"] for i in await a.outbox()}
            assert await a.outbox_retry(q["id"]) == 1
            assert await a.outbox_retry("all") >= 2
            assert isinstance(await a.outbox_dead(), list)
            await a.outbox_drop(q["id"])
            dropped = await next_event(events, lambda e: e.type == "queue:dropped")
            assert dropped["id"] == q["id"]
            await a.outbox_drop(mid)
            left = {i["id"] for i in await a.outbox()}
            assert q["id"] not in left and mid not in left
            with pytest.raises(subwire.QueueItemNotFoundError):
                await a.outbox_drop(q["id"])
            with pytest.raises(subwire.QueueItemNotFoundError):
                await a.outbox_retry("no-such-item")
            await events.close()
    try:
        run(main())
    finally:
        src.unlink()


def test_a_queued_file_with_wait_is_followed_to_delivery(alice: Listener, bob: Listener, workdir: Path) -> None:
    src = workdir / "queued-wait.bin"
    src.write_bytes(os.urandom(24 << 20))

    async def main() -> None:
        async with await subwire.connect(alice.socket) as a, await subwire.connect(bob.socket) as b:
            received = await b.subscribe(["file:received"])
            steps: list[subwire.Progress] = []
            r = await a.send_file(bob.addr, src, queue=True, on_progress=steps.append)
            assert r["queued"] is True and r["joined"] is False and r["size"] == 24 << 20
            assert "attempt" in [p.phase for p in steps]
            ev = await next_event(received, lambda e: e["blake3"] == r["blake3"], 60)
            assert ev["from"] == alice.ss58 and sha256(ev["path"]) == sha256(src)
            os.unlink(ev["path"])
            assert r["id"] not in {i["id"] for i in await a.outbox()}
            # a queued item followed with outbox_wait
            q = await a.send_file(bob.addr, src, name="second.bin", queue=True, wait=False)
            done = await a.outbox_wait(q["id"])
            assert done["id"] == q["id"] and done["result"]["blake3"] == r["blake3"]
            ev = await next_event(received, lambda e: e["name"] == "second.bin", 60)
            os.unlink(ev["path"])
    try:
        run(main())
    finally:
        src.unlink()


def test_the_receiver_cancels_a_transfer_and_the_sender_gets_the_reason(alice: Listener, bob: Listener, workdir: Path) -> None:
    src = workdir / "cancelled.bin"
    with open(src, "wb") as f:
        for _ in range(32):
            f.write(os.urandom(16 << 20))  # 512 MiB: still arriving when the cancel lands

    async def main() -> None:
        async with await subwire.connect(alice.socket) as a, await subwire.connect(bob.socket) as b:
            incoming = await b.subscribe(["file:accepted", "file:failed"])
            send = asyncio.ensure_future(a.send_file(bob.addr, src))
            accepted = await next_event(incoming, lambda e: e.type == "file:accepted" and e["from"] == alice.ss58)
            assert await b.cancel_transfer(accepted["id"], "no room for it") is True
            # the sender's error is typed and carries the receiver's reason
            with pytest.raises(subwire.TransferCancelledError) as e:
                await asyncio.wait_for(send, 60)
            assert "receiver" in e.value.message and "no room for it" in e.value.message
            failed = await next_event(incoming, lambda e: e.type == "file:failed")
            assert failed["id"] == accepted["id"]
            assert await b.cancel_transfer(accepted["id"]) is False  # no longer running
            assert await b.cancel_transfer("no-such-transfer") is False
    try:
        run(main())
    finally:
        src.unlink()


def test_the_address_book_adds_resolves_and_removes_a_hotkey(alice: Listener, bob: Listener) -> None:
    async def main() -> None:
        async with await subwire.connect(alice.socket) as a:
            await a.book_remove(bob.ss58)
            entry = await a.book_add(bob.ss58, bob.addr)
            assert entry["ss58"] == bob.ss58 and entry["peerId"] == bob.info["peerId"] and bob.addr.split("/p2p/")[0] in entry["addrs"]
            assert bob.ss58 in {e["ss58"] for e in await a.book()}
            # the SS58 alone now reaches bob
            assert await a.query(bob.ss58, "echo", {"by": "ss58"}, timeout=10) == {"by": "ss58"}
            connected = await a.connect(bob.ss58)
            assert connected["ss58"] == bob.ss58
            assert bob.ss58 in {p["ss58"] for p in await a.peers()}
            assert await a.book_remove(bob.ss58) is True
            assert await a.book_remove(bob.ss58) is False
            assert bob.ss58 not in {e["ss58"] for e in await a.book()}
            with pytest.raises(subwire.ApiProtocolError):
                await a.book_add("not-an-ss58", bob.addr)
            with pytest.raises(subwire.ApiProtocolError):
                await a.book_add(bob.ss58, "/ip4/127.0.0.1/udp/1/quic-v1")
    run(main())


def test_acl_block_remove_and_the_subnet_firewall_apply_to_the_running_peer(dave: Listener, bob: Listener) -> None:
    async def main() -> None:
        async with await subwire.connect(dave.socket) as d, await subwire.connect(bob.socket) as b:
            assert await b.query(dave.addr, "echo", 1, timeout=10) == 1
            assert bob.ss58 in {p["ss58"] for p in await d.peers()}
            base = await d.acl()
            assert set(base) >= {"allow", "block", "firewall"}
            blocked = await d.acl_block(bob.ss58)
            # bob's connection is closed at once (the edit's `closed` count reads 0 today: NodePeer.applyAcl
            # counts the second of its two re-checks, after setFirewall's already closed it)
            assert bob.ss58 in blocked["block"] and isinstance(blocked["closed"], int)
            assert bob.ss58 not in {p["ss58"] for p in await d.peers()}
            with pytest.raises(subwire.HandshakeFailedError) as refused:
                await b.query(dave.addr, "echo", 2, timeout=10)
            assert "blocked" in refused.value.message
            assert bob.ss58 in (await d.acl())["block"]
            removed = await d.acl_remove(bob.ss58)
            assert bob.ss58 not in removed["block"]
            assert await b.query(dave.addr, "echo", 3, timeout=10) == 3
            # the fail-closed firewall of subnet 42: bob gets in only once admitted
            fw = await d.acl_firewall(42, True)
            assert 42 in fw["firewall"]["netuids"]
            with pytest.raises(subwire.SubwireError):
                await b.query(dave.addr, "echo", 4, timeout=10)
            admitted = await d.acl_allow(bob.ss58, netuid=42)
            assert bob.ss58 in admitted["firewall"]["admitted"]["42"]
            assert await b.query(dave.addr, "echo", 5, timeout=10) == 5
            off = await d.acl_firewall(42, False)
            assert 42 not in off["firewall"]["netuids"]
            await d.acl_remove(bob.ss58)
            allowed = await d.acl_allow("127.0.0.0/8")
            assert "127.0.0.0/8" in allowed["allow"]
            await d.acl_remove("127.0.0.0/8")
            with pytest.raises(subwire.SubwireError) as bad:
                await d.acl_allow("not-an-entry")
            assert bad.value.name in ("InvalidConfigError", "ApiProtocolError", "InvalidAclEntryError")
            with pytest.raises(subwire.ApiProtocolError):
                await d.acl_allow("127.0.0.1", netuid=42)  # the firewall admits hotkeys only
            assert await b.query(dave.addr, "echo", 6, timeout=10) == 6
    run(main())


def test_python_message_handlers_see_the_caller_hold_the_ack_and_return_errors(alice: Listener, bob: Listener) -> None:
    async def main() -> None:
        async with await subwire.connect(alice.socket) as a, await subwire.connect(bob.socket) as b:
            got: list[tuple[Any, subwire.Caller]] = []

            @a.on_message("weights:ready")
            async def weights(payload: Any, caller: subwire.Caller) -> None:
                await asyncio.sleep(0.3)  # the sender's ack waits for this
                got.append((payload, caller))

            @a.on_message("boom")
            async def boom(payload: Any, caller: subwire.Caller) -> None:
                raise subwire.AccessDeniedError(f"{caller.ss58} may not boom")

            @a.on_message("crash")
            def crash(payload: Any, caller: subwire.Caller) -> None:
                raise ValueError("bad payload")
            await a.ready()

            t0 = time.monotonic()
            mid = await b.message(alice.addr, "weights:ready", {"epoch": 7}, timeout=10)
            assert time.monotonic() - t0 >= 0.3 and isinstance(mid, str)
            assert len(got) == 1 and got[0][0] == {"epoch": 7}
            assert got[0][1].ss58 == bob.ss58 and got[0][1].peer_id == bob.info["peerId"] and got[0][1].netuid == 42
            with pytest.raises(subwire.AccessDeniedError) as e1:
                await b.message(alice.addr, "boom", None, timeout=10)
            assert bob.ss58 in e1.value.message
            with pytest.raises(subwire.SubwireError) as e2:
                await b.message(alice.addr, "crash", None, timeout=10)
            assert "bad payload" in e2.value.message
            # an action nobody handles is acked by the peer itself, as before
            assert isinstance(await b.message(alice.addr, "unhandled:action", 1, timeout=10), str)
            assert len(got) == 1
        # the handlers went away with their client: the same action is acked without them
        async with await subwire.connect(bob.socket) as b:
            assert isinstance(await b.message(alice.addr, "boom", None, timeout=10), str)
    run(main())


def test_a_non_loopback_api_address_is_warned_about(workdir: Path, alice: Listener) -> None:
    l = Listener(workdir / "wide", "//Eve", ["--api", "0.0.0.0:0"])
    try:
        deadline = time.monotonic() + 10
        while "not a loopback address" not in "".join(l.stderr) and time.monotonic() < deadline:
            time.sleep(0.1)
        err = "".join(l.stderr)
        assert "not a loopback address" in err and "0.0.0.0" in err and "api.token" in err, err
        assert l.info["api"]["tcp"].startswith("0.0.0.0:")
    finally:
        l.stop()
    # a loopback --api is not warned about
    assert "not a loopback address" not in "".join(alice.stderr)


def test_plain_handlers_that_return_at_once_or_suspend_and_a_caller_timeout_cancels_the_suspended_one(alice: Listener, bob: Listener) -> None:
    async def main() -> None:
        async with await subwire.connect(alice.socket) as a, await subwire.connect(bob.socket) as b:
            cancelled = asyncio.Event()

            @a.handler("now")
            async def now(body: Any, caller: subwire.Caller) -> Any:
                return {"n": body, "by": caller.ss58}  # answered without a Task

            @a.handler("sync")
            def sync(body: Any, caller: subwire.Caller) -> Any:
                return body * 2

            @a.handler("later")
            async def later(body: Any, caller: subwire.Caller) -> Any:
                await asyncio.sleep(0.05)
                await asyncio.sleep(0.05)  # suspends twice: resumed by a Task
                return body + 1

            @a.handler("forever")
            async def forever(body: Any, caller: subwire.Caller) -> Any:
                try:
                    await asyncio.sleep(60)
                except asyncio.CancelledError:
                    cancelled.set()
                    raise
            await a.ready()
            assert await b.query(alice.addr, "now", 1, timeout=10) == {"n": 1, "by": bob.ss58}
            assert await b.query(alice.addr, "sync", 21, timeout=10) == 42
            assert await asyncio.gather(*(b.query(alice.addr, "later", i, timeout=10) for i in range(50))) == list(range(1, 51))
            with pytest.raises(subwire.RequestTimeoutError):
                await b.query(alice.addr, "forever", None, timeout=0.5)
            await asyncio.wait_for(cancelled.wait(), 10)
            assert not a._calls  # nothing left running in the handler's client
    run(main())
