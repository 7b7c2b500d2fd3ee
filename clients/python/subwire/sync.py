"""A synchronous facade for scripts: the asyncio client on a background thread.

>>> from subwire.sync import connect
>>> with connect() as client:
...     print(client.query(dest, "echo", {"x": 1}, timeout=5))
"""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Iterator

from . import client as _client


class SyncClient:
    """Blocking versions of :class:`subwire.Client`'s calls (each waits for its answer)."""

    def __init__(self, **connect_args: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="subwire", daemon=True)
        self._thread.start()
        self._client: _client.Client = self._run(_client.connect(**connect_args))

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr
        return lambda *a, **kw: self._run(attr(*a, **kw))

    def query_stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Yields the chunks of a streamed reply."""
        agen = self._client.query_stream(*args, **kwargs)
        while True:
            try:
                yield self._run(agen.__anext__())
            except StopAsyncIteration:
                return

    def close(self) -> None:
        """Closes the connection and stops the thread."""
        self._run(self._client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

    def __enter__(self) -> "SyncClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def connect(**kwargs: Any) -> SyncClient:
    """Like :func:`subwire.connect`, blocking: ``path``, ``home``, ``address``, ``token``."""
    return SyncClient(**kwargs)
