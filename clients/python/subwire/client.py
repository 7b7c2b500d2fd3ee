"""The asyncio client of the subwire local API.

One persistent connection (the home's Unix socket, or TCP with a token) carries every
call at once: each operation has an id, frames are length-prefixed MessagePack, and the
handlers this program serves receive ``call`` frames on the same connection.
"""
from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable

from ._framing import Decoder, FrameTooLarge, encode
from .errors import SubwireError, error_from_wire, error_to_wire

API_VERSION = 1
log = logging.getLogger("subwire")

#: A handler: ``async def h(body, caller) -> reply`` or an async generator of reply chunks.
Handler = Callable[[Any, "Caller"], Any]
#: A progress callback of ``send_file``.
ProgressCallback = Callable[["Progress"], Any]


@dataclass(frozen=True)
class Caller:
    """The verified sender of a request or message."""

    #: Its hotkey, verified by the subwire handshake.
    ss58: str
    #: Its libp2p PeerId.
    peer_id: str
    #: The subnet the request arrived on.
    netuid: int

    @staticmethod
    def _from(raw: dict[str, Any]) -> "Caller":
        return Caller(ss58=raw["ss58"], peer_id=raw["peerId"], netuid=int(raw["netuid"]))


@dataclass(frozen=True)
class Progress:
    """A transfer's progress: ``phase`` is ``hashing`` or ``bytes`` (or an outbox step: ``attempt``, ``retry``)."""

    phase: str
    bytes: int
    total: int
    rate: int
    transfer: str | None = None


@dataclass
class Event:
    """An event of the peer: ``type`` (``message``, ``file:received``, ``peer:connected``…) and its fields."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


def default_home() -> Path:
    """``$SUBWIRE_HOME``, else ``~/.subwire``."""
    env = os.environ.get("SUBWIRE_HOME")
    return Path(env) if env else Path.home() / ".subwire"


class _Op:
    __slots__ = ("future", "on_frame")

    def __init__(self, future: asyncio.Future[Any], on_frame: Callable[[dict[str, Any]], None] | None) -> None:
        self.future = future
        self.on_frame = on_frame


class _Resume:
    """Awaits the rest of a coroutine that was started by hand (``coro.send(None)`` gave ``first``):
    lets a Task drive it on from where it suspended."""

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Any, first: Any) -> None:
        self._coro = coro
        self._first = first

    def __await__(self) -> Any:
        coro, value = self._coro, self._first
        self._first = None
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as e:  # noqa: BLE001 - a cancel (or other throw) goes on into the coroutine
                try:
                    value = coro.throw(e)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as done:
                    return done.value


class _Protocol(asyncio.Protocol):
    def __init__(self, client: "Client") -> None:
        self._client = client
        self._decoder = Decoder()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._client._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._decoder.feed(data)
        except FrameTooLarge as e:
            self._client._lost(SubwireError(str(e)))
            return
        for f in frames:
            self._client._on_frame(f)

    def connection_lost(self, exc: Exception | None) -> None:
        self._client._lost(exc)


class EventStream:
    """Events as they happen, in order; ``async for`` it, or ``await`` :meth:`start` first to be sure none is missed."""

    def __init__(self, client: "Client", types: Iterable[str] | None) -> None:
        self._client = client
        self._types = list(types) if types is not None else None
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._id: int | None = None
        self._started: asyncio.Future[None] | None = None
        self._done: asyncio.Future[Any] | None = None

    async def start(self) -> "EventStream":
        """Subscribes (resolves once the peer confirmed: from then on no event is missed)."""
        if self._started is None:
            loop = asyncio.get_running_loop()
            self._started = loop.create_future()
            started = self._started

            def on_frame(f: dict[str, Any]) -> None:
                if f["t"] == "event":
                    ev = dict(f["event"])
                    self._queue.put_nowait(Event(type=ev.pop("type"), data=ev))
                elif f["t"] == "subscribed" and not started.done():
                    started.set_result(None)

            args: dict[str, Any] = {} if self._types is None else {"types": self._types}
            self._id, self._done = self._client._start("subscribe", args, on_frame)
            self._done.add_done_callback(self._ended)
        await asyncio.shield(self._started)
        return self

    def _ended(self, fut: asyncio.Future[Any]) -> None:
        exc = None if fut.cancelled() else fut.exception()
        if self._started is not None and not self._started.done():
            if exc is not None:
                self._started.set_exception(exc)
            else:
                self._started.set_result(None)
        self._queue.put_nowait(exc if exc is not None else StopAsyncIteration())

    def __aiter__(self) -> "EventStream":
        return self

    async def __anext__(self) -> Event:
        await self.start()
        item = await self._queue.get()
        if isinstance(item, BaseException):
            self._queue.put_nowait(item)
            if isinstance(item, StopAsyncIteration):
                raise StopAsyncIteration
            raise item
        return item

    async def close(self) -> None:
        """Ends the subscription."""
        if self._id is not None:
            self._client._send({"op": "cancel", "target": self._id})
            self._id = None

    async def __aenter__(self) -> "EventStream":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class Client:
    """A connection to a running peer's local API. Make one with :func:`connect`."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._ids = itertools.count(1)
        self._ops: dict[int, _Op] = {}
        self._wbuf: list[bytes] = []
        self._flush_scheduled = False
        self._closed: BaseException | None = None
        self._handlers: dict[str, tuple[Handler, bool]] = {}
        self._message_handlers: dict[str, Handler] = {}
        self._calls: dict[int, asyncio.Task[None]] = {}
        self._credits: dict[int, asyncio.Queue[int]] = {}
        self._registrations: list[asyncio.Future[Any]] = []
        self._loop: asyncio.AbstractEventLoop = asyncio.get_running_loop()
        #: What ``hello`` answered: ``ss58``, ``peerId``, ``netuids``, ``version``.
        self.info: dict[str, Any] = {}

    # --- connection ---------------------------------------------------------------

    async def _open(self, path: str | None, host: str | None, port: int | None, token: str | None) -> None:
        self._loop = asyncio.get_running_loop()
        if path is not None:
            await self._loop.create_unix_connection(lambda: _Protocol(self), path)
        else:
            await self._loop.create_connection(lambda: _Protocol(self), host, port)
        hello: dict[str, Any] = {"version": API_VERSION, "client": "subwire-python/0.1.0"}
        if token is not None:
            hello["token"] = token
        self.info = await self._call("hello", hello)

    def _send(self, frame: dict[str, Any]) -> None:
        if self._closed is not None or self._transport is None:
            raise ConnectionError("the subwire API connection is closed") from self._closed
        self._wbuf.append(encode(frame))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._wbuf and self._transport is not None and not self._transport.is_closing():
            data = self._wbuf[0] if len(self._wbuf) == 1 else b"".join(self._wbuf)
            self._wbuf.clear()
            self._transport.write(data)

    def _lost(self, exc: BaseException | None) -> None:
        if self._closed is not None:
            return
        self._closed = exc or ConnectionError("the subwire API connection closed")
        if self._transport is not None:
            self._transport.close()
        for op in self._ops.values():
            if not op.future.done():
                op.future.set_exception(ConnectionError(f"the subwire API connection closed: {self._closed}"))
        self._ops.clear()
        for task in self._calls.values():
            task.cancel()

    def _on_frame(self, f: dict[str, Any]) -> None:
        t = f.get("t")
        if t == "result":  # the common case first
            op = self._ops.pop(f.get("id", 0), None)
            if op is not None and not op.future.done():
                op.future.set_result(f.get("value"))
            return
        if t == "call":
            self._on_call(f)
            return
        if t == "cancel":
            task = self._calls.get(f.get("call", -1))
            if task is not None:
                task.cancel()
            return
        if t == "credit":
            q = self._credits.get(f.get("call", -1))
            if q is not None:
                q.put_nowait(int(f.get("n", 0)))
            return
        op = self._ops.get(f.get("id", 0))
        if op is None:
            if t == "error" and f.get("id", 0) == 0:
                log.warning("subwire API: %s", error_from_wire(f.get("error")))
            return
        if t == "error":
            del self._ops[f["id"]]
            if not op.future.done():
                op.future.set_exception(error_from_wire(f.get("error")))
        elif op.on_frame is not None:
            op.on_frame(f)

    def _start(self, op: str, args: dict[str, Any], on_frame: Callable[[dict[str, Any]], None] | None = None) -> tuple[int, asyncio.Future[Any]]:
        id_ = next(self._ids)
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._ops[id_] = _Op(fut, on_frame)
        self._send({"op": op, "id": id_, **{k: v for k, v in args.items() if v is not None}})
        return id_, fut

    async def _call(self, op: str, args: dict[str, Any] | None = None, on_frame: Callable[[dict[str, Any]], None] | None = None) -> Any:
        id_, fut = self._start(op, args or {}, on_frame)
        return await self._await_op(id_, fut)

    async def _await_op(self, id_: int, fut: "asyncio.Future[Any]") -> Any:
        """The result of operation `id_`; cancelled, it tells the peer to cancel it too."""
        try:
            return await fut
        except asyncio.CancelledError:
            if id_ in self._ops and self._closed is None:
                del self._ops[id_]
                self._send({"op": "cancel", "target": id_})
            raise

    async def close(self) -> None:
        """Closes the connection: the handlers it served are unregistered by the peer."""
        self._flush()
        if self._transport is not None:
            self._transport.close()
        self._lost(None)
        await asyncio.sleep(0)

    @property
    def closed(self) -> bool:
        """True once the connection is gone."""
        return self._closed is not None

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # --- identity, peers, address book ----------------------------------------------

    async def id(self) -> dict[str, Any]:
        """This peer: ``ss58``, ``peerId``, ``netuids``, ``multiaddrs``."""
        return await self._call("id")

    async def peers(self) -> list[dict[str, Any]]:
        """Peers with an authenticated connection now."""
        return await self._call("peers")

    async def connect(self, dest: str) -> dict[str, Any]:
        """Connects (and authenticates) to ``dest`` (a multiaddr with /p2p/ or a known SS58)."""
        return await self._call("connect", {"dest": dest})

    async def book(self) -> list[dict[str, Any]]:
        """The address book."""
        return await self._call("book.list")

    async def book_add(self, ss58: str, multiaddr: str) -> dict[str, Any]:
        """Adds an address (ending in /p2p/<PeerId>) for a hotkey."""
        return await self._call("book.add", {"ss58": ss58, "multiaddr": multiaddr})

    async def book_remove(self, ss58: str) -> bool:
        """Forgets a hotkey."""
        return (await self._call("book.remove", {"ss58": ss58}))["removed"]

    # --- RPC and messages --------------------------------------------------------------

    @staticmethod
    def _ms(timeout: float | None) -> float | None:
        return None if timeout is None else timeout * 1000

    async def query(self, dest: str, type: str, body: Any = None, *, timeout: float | None = None, netuid: int | None = None, encrypt: bool | None = None,
                    bulk: bool | None = None) -> Any:
        """Sends an RPC request and returns the reply body. ``timeout`` in seconds. ``bulk``: over the
        peer's connection for large transfers (``True`` for a small request with a large reply;
        default: when the body is 256 KiB or more)."""
        # the hot path: the frame is built here, with no argument dict to filter
        if self._closed is not None or self._transport is None:
            raise ConnectionError("the subwire API connection is closed") from self._closed
        id_ = next(self._ids)
        frame: dict[str, Any] = {"op": "request", "id": id_, "dest": dest, "type": type, "body": body}
        if timeout is not None:
            frame["timeout"] = timeout * 1000
        if netuid is not None:
            frame["netuid"] = netuid
        if encrypt is not None:
            frame["encrypt"] = encrypt
        if bulk is not None:
            frame["bulk"] = bulk
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._ops[id_] = _Op(fut, None)
        self._wbuf.append(encode(frame))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        return await self._await_op(id_, fut)

    async def query_stream(self, dest: str, type: str, body: Any = None, *, timeout: float | None = None, netuid: int | None = None, encrypt: bool | None = None,
                           bulk: bool | None = None) -> AsyncIterator[Any]:
        """Sends a request whose reply is streamed; yields each chunk. ``bulk`` as in :meth:`query`."""
        async for kind, value in self._streamed("request_stream", {"dest": dest, "type": type, "body": body, "timeout": self._ms(timeout), "netuid": netuid, "encrypt": encrypt, "bulk": bulk}, "chunk"):
            if kind == "item":
                yield value

    async def query_subnet(self, netuid: int, type: str, body: Any = None, *, timeout: float | None = None, concurrency: int | None = None,
                           members: list[str] | None = None, stream: bool | None = None, encrypt: bool | None = None) -> AsyncIterator[dict[str, Any]]:
        """Fans a request out to every member of a subnet and yields each member's result as it arrives.

        A result is ``{"ss58", "ok": True, "body", "ms"}`` or ``{"ss58", "ok": False, "reason", "error", "ms"}``
        (``reason``: ``unreachable``, ``timeout``, ``refused`` or ``handler``; ``error`` the typed exception).
        The last item is the summary: ``{"summary": True, "members", "answered", "failed", "p50Ms", "p99Ms", "ms"}``.
        ``timeout`` (seconds) bounds the whole fan-out: a slow or dead member is a ``timeout`` result, never a wait.
        """
        async for item in self._fan_out("query_subnet", {"netuid": netuid, "type": type, "body": body}, timeout, concurrency, members, stream, encrypt):
            yield item

    async def message_subnet(self, netuid: int, action: str, payload: Any = None, *, timeout: float | None = None, concurrency: int | None = None,
                             members: list[str] | None = None, encrypt: bool | None = None) -> AsyncIterator[dict[str, Any]]:
        """Sends a control message to every member of a subnet; yields each member's ack or failure, then the summary (as ``query_subnet``)."""
        async for item in self._fan_out("message_subnet", {"netuid": netuid, "action": action, "payload": payload}, timeout, concurrency, members, None, encrypt):
            yield item

    async def _fan_out(self, op: str, args: dict[str, Any], timeout: float | None, concurrency: int | None, members: list[str] | None,
                       stream: bool | None, encrypt: bool | None) -> AsyncIterator[dict[str, Any]]:
        full = {**args, "timeout": self._ms(timeout), "concurrency": concurrency, "members": members, "stream": stream, "encrypt": encrypt}
        async for kind, value in self._streamed(op, full, "member"):
            if kind == "item":
                result = dict(value)
                if not result.get("ok") and isinstance(result.get("error"), dict):
                    result["error"] = error_from_wire(result["error"])
                yield result
            else:
                yield {"summary": True, **(value or {})}

    async def _streamed(self, op: str, args: dict[str, Any], frame_type: str) -> AsyncIterator[tuple[str, Any]]:
        """Runs an operation whose progress frames of ``frame_type`` are items; yields ``("item", value)`` each, then ``("end", result)``."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        id_, fut = self._start(op, args, lambda f: queue.put_nowait(("item", f.get("value"))) if f["t"] == frame_type else None)
        fut.add_done_callback(lambda _f: queue.put_nowait(("end", None)))
        finished = False
        try:
            while True:
                kind, value = await queue.get()
                if kind == "end":
                    finished = True
                    yield ("end", fut.result())
                    return
                yield (kind, value)
        finally:
            if not finished and id_ in self._ops and self._closed is None:
                del self._ops[id_]
                self._send({"op": "cancel", "target": id_})

    async def message(self, dest: str, action: str, payload: Any = None, *, queue: bool = False, timeout: float | None = None, netuid: int | None = None, encrypt: bool | None = None, id: str | None = None) -> str:
        """Sends a control message; returns its id once the receiver acked it (or, with ``queue=True``, once it is in the outbox)."""
        r = await self._call("message", {"dest": dest, "action": action, "payload": payload, "queue": queue, "timeout": self._ms(timeout), "netuid": netuid, "encrypt": encrypt, "messageId": id})
        return r["id"]

    # --- files and the outbox -------------------------------------------------------------

    async def send_file(self, dest: str, path: str | os.PathLike[str], *, name: str | None = None, queue: bool = False, wait: bool = True, on_progress: ProgressCallback | None = None, netuid: int | None = None, encrypt: bool | None = None, hash_first: bool | None = None) -> dict[str, Any]:
        """Sends a file the peer reads from ``path`` (never through the API). Returns once the receiver verified it
        (``blake3``, ``size``, ``bytesSent``, ``resumedFrom``, ``ms``). With ``queue=True`` it goes through the outbox;
        ``wait=False`` then returns the item id at once. A file the peer has no kept hashes of leaves at once, hashed
        as it goes (its root sent last); ``hash_first=True`` hashes it whole first."""
        def on_frame(f: dict[str, Any]) -> None:
            if f["t"] == "progress" and on_progress is not None:
                r = on_progress(Progress(phase=f.get("phase", "bytes"), bytes=int(f.get("bytes") or 0), total=int(f.get("total") or 0), rate=int(f.get("rate") or 0), transfer=f.get("transfer")))
                if inspect.isawaitable(r):
                    asyncio.ensure_future(r)
        args = {"dest": dest, "path": os.path.abspath(os.fspath(path)), "name": name, "queue": queue, "wait": wait if queue else None, "progress": on_progress is not None, "netuid": netuid, "encrypt": encrypt, "hashFirst": hash_first}
        return await self._call("send_file", args, on_frame)

    async def cancel_transfer(self, transfer: str, reason: str | None = None) -> bool:
        """Cancels an incoming transfer by id (the ``id`` of its ``file:accepted`` / ``file:progress`` events);
        the sender gets ``TransferCancelledError`` with ``reason``. False if no such transfer is running."""
        return bool((await self._call("cancel_transfer", {"transfer": transfer, "reason": reason}))["cancelled"])

    async def outbox(self) -> list[dict[str, Any]]:
        """Items waiting in the outbox."""
        return await self._call("outbox.list")

    async def outbox_dead(self) -> list[dict[str, Any]]:
        """The dead-letter list."""
        return await self._call("outbox.dead")

    async def outbox_retry(self, item: str = "all") -> int:
        """Retries a dead or waiting item now (``all``: every one); returns how many."""
        return (await self._call("outbox.retry", {"item": item}))["count"]

    async def outbox_drop(self, item: str) -> None:
        """Drops an item."""
        await self._call("outbox.drop", {"item": item})

    async def outbox_wait(self, item: str) -> dict[str, Any]:
        """Waits until an item is delivered (raises ``DeadLetterError`` if it is given up)."""
        return await self._call("outbox.wait", {"item": item})

    # --- ACL ---------------------------------------------------------------------------------

    async def acl(self) -> dict[str, Any]:
        """The allow and block lists and the subnet firewall."""
        return await self._call("acl.get")

    async def acl_allow(self, *entries: str, netuid: int | None = None) -> dict[str, Any]:
        """Allows SS58s, PeerIds, IPs or CIDRs (with ``netuid``: admits SS58s through that subnet's firewall)."""
        return await self._call("acl.allow", {"entries": list(entries), "netuid": netuid})

    async def acl_block(self, *entries: str) -> dict[str, Any]:
        """Blocks entries (connected matches are disconnected)."""
        return await self._call("acl.block", {"entries": list(entries)})

    async def acl_remove(self, *entries: str) -> dict[str, Any]:
        """Removes entries from every list."""
        return await self._call("acl.remove", {"entries": list(entries)})

    async def acl_firewall(self, netuid: int, on: bool) -> dict[str, Any]:
        """Turns the fail-closed subnet firewall on or off."""
        return await self._call("acl.firewall", {"netuid": netuid, "on": on})

    # --- events ----------------------------------------------------------------------------------

    def events(self, types: Iterable[str] | None = None) -> EventStream:
        """Events (all, or of ``types``): ``async for event in client.events(): …``."""
        return EventStream(self, types)

    async def subscribe(self, types: Iterable[str] | None = None) -> EventStream:
        """Like :meth:`events`, but subscribed when it returns."""
        return await EventStream(self, types).start()

    # --- handlers served from this process -----------------------------------------------------

    def handler(self, type: str, *, netuid: int | None = None, stream: bool | None = None) -> Callable[[Handler], Handler]:
        """Decorator: serves RPC ``type`` from this process. An async generator function streams its reply.
        The registration is sent at once; ``await client.ready()`` waits until the peer confirmed it."""
        def register(fn: Handler) -> Handler:
            self._registrations.append(asyncio.ensure_future(self.handle(type, fn, netuid=netuid, stream=stream)))
            return fn
        return register

    async def handle(self, type: str, fn: Handler, *, netuid: int | None = None, stream: bool | None = None) -> None:
        """Serves RPC ``type`` with ``fn(body, caller)``; returns once the peer routes requests here."""
        streamed = inspect.isasyncgenfunction(fn) if stream is None else stream
        self._handlers[type] = (fn, streamed)
        await self._call("handle", {"type": type, "netuid": netuid, "stream": streamed})

    async def unhandle(self, type: str, *, netuid: int | None = None) -> None:
        """Stops serving ``type``."""
        self._handlers.pop(type, None)
        await self._call("unhandle", {"type": type, "netuid": netuid})

    def on_message(self, *actions: str) -> Callable[[Handler], Handler]:
        """Decorator: ``fn(payload, caller)`` runs for each message with one of ``actions`` (none: every action);
        the sender's ack waits for it, and an exception reaches the sender as the error."""
        acts = list(actions) or ["*"]

        def register(fn: Handler) -> Handler:
            for a in acts:
                self._message_handlers[a] = fn
            self._registrations.append(asyncio.ensure_future(self._call("handle_messages", {"actions": acts})))
            return fn
        return register

    async def ready(self) -> None:
        """Waits until every handler registered with a decorator is confirmed by the peer (raises if one was refused)."""
        regs, self._registrations = self._registrations, []
        await asyncio.gather(*regs)

    async def serve_forever(self) -> None:
        """Serves the registered handlers until the connection closes."""
        await self.ready()
        while self._closed is None:
            await asyncio.sleep(0.5)

    def _on_call(self, f: dict[str, Any]) -> None:
        n = f["call"]
        kind = f.get("kind")
        typ = f.get("type", "")
        caller = Caller._from(f["caller"])
        if kind == "message":
            fn = self._message_handlers.get(typ) or self._message_handlers.get("*")
            streamed = False
        else:
            fn, streamed = self._handlers.get(typ, (None, False))
        if fn is None:
            self._send({"op": "reply", "call": n, "error": {"name": "UnknownRpcTypeError", "message": f'No handler for "{typ}" in this client'}})
            return
        streamed = streamed or bool(f.get("stream"))
        if not streamed:
            # run the handler at once: one that returns without suspending (no await that waits)
            # is answered in this turn with no Task, as Python 3.12's eager tasks do
            try:
                value = fn(f.get("body"), caller)
                if inspect.iscoroutine(value):
                    try:
                        first = value.send(None)
                    except StopIteration as done:
                        value = done.value
                    else:
                        self._calls[n] = self._loop.create_task(self._finish_call(n, _Resume(value, first)))
                        return
                elif inspect.isawaitable(value):
                    self._calls[n] = self._loop.create_task(self._finish_call(n, value))
                    return
            except Exception as e:  # noqa: BLE001 - every handler error goes back to the caller, typed by name
                self._send({"op": "reply", "call": n, "error": error_to_wire(e)})
                return
            self._send({"op": "reply", "call": n, "value": value})
            return
        task = self._loop.create_task(self._run_call(n, fn, streamed, f.get("body"), caller, int(f.get("window", 16))))
        self._calls[n] = task

    async def _finish_call(self, n: int, pending: Awaitable[Any]) -> None:
        """The rest of a plain handler that suspended: awaits it and replies."""
        try:
            value = await pending
        except asyncio.CancelledError:
            return  # the caller cancelled or timed out: the peer already answered it
        except Exception as e:  # noqa: BLE001
            if self._closed is None:
                self._send({"op": "reply", "call": n, "error": error_to_wire(e)})
            return
        finally:
            self._calls.pop(n, None)
        if self._closed is None:
            self._send({"op": "reply", "call": n, "value": value})

    async def _run_call(self, n: int, fn: Handler, streamed: bool, body: Any, caller: Caller, window: int) -> None:
        try:
            if streamed:
                credits: asyncio.Queue[int] = asyncio.Queue()
                self._credits[n] = credits
                left = window
                agen = fn(body, caller)
                async for chunk in agen:
                    while left <= 0:
                        left += await credits.get()
                    left -= 1
                    self._send({"op": "chunk", "call": n, "value": chunk})
                self._send({"op": "end", "call": n})
            else:
                value = fn(body, caller)
                if inspect.isawaitable(value):
                    value = await value
                self._send({"op": "reply", "call": n, "value": value})
        except asyncio.CancelledError:
            pass  # the caller cancelled or timed out: the peer already answered it
        except Exception as e:  # noqa: BLE001 - every handler error goes back to the caller, typed by name
            if self._closed is None:
                self._send({"op": "reply", "call": n, "error": error_to_wire(e)})
        finally:
            self._calls.pop(n, None)
            self._credits.pop(n, None)


async def connect(path: str | os.PathLike[str] | None = None, *, home: str | os.PathLike[str] | None = None, address: str | None = None, token: str | None = None) -> Client:
    """Connects to a running ``subwire listen``.

    - default: the Unix socket ``<home>/api.sock`` (``home``, else ``$SUBWIRE_HOME``, else ``~/.subwire``);
    - ``path``: that socket;
    - ``address="127.0.0.1:4790"`` (or ``$SUBWIRE_API``): TCP, with ``token`` or the one in ``<home>/api.token``.
    """
    client = Client()
    h = Path(home) if home is not None else default_home()
    address = address or (None if path is not None else os.environ.get("SUBWIRE_API"))
    if address is not None:
        host, _, port = address.rpartition(":")
        if token is None:
            token = (h / "api.token").read_text().strip()
        await client._open(None, host.strip("[]"), int(port), token)
    else:
        await client._open(os.fspath(path) if path is not None else str(h / "api.sock"), None, None, None)
    return client
