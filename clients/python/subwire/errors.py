"""Typed errors of the subwire local API.

Every error the peer sends is ``{name, message, code}``; it is raised here as the class of
that name (one per TypeScript class, generated into ``_errors_gen.py``), so a program
checks ``except subwire.errors.UnknownRpcTypeError`` or ``err.name == "UnknownRpcTypeError"``.
A handler error the library does not know arrives as :class:`RemoteHandlerError` with
``remote_name`` set to the remote's name for it.
"""
from __future__ import annotations

from typing import Any


class SubwireError(Exception):
    """Base of every subwire error."""

    name: str = "SubwireError"
    code: str = "ERR_SUBWIRE"
    default_message: str = "subwire error"

    def __init__(self, message: str | None = None, *, remote: bool = False, details: dict[str, Any] | None = None) -> None:
        self.message = message if message is not None else self.default_message
        #: True when a remote peer raised it (a handler's error, a refusal), not this peer.
        self.remote = remote
        #: Other fields the peer sent (``netuid``, ``remoteName``…).
        self.details = details or {}
        #: For a RemoteHandlerError: the name the remote handler gave its error.
        self.remote_name: str | None = None
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"

    def to_wire(self) -> dict[str, Any]:
        """The ``{name, message}`` a handler's raised error travels as."""
        return {"name": self.name, "message": self.message, **({"netuid": self.details["netuid"]} if "netuid" in self.details else {})}


class UnknownError(SubwireError):
    """An error whose name this client does not know (a newer peer)."""

    name = "UnknownError"
    code = "ERR_UNKNOWN"


def error_from_wire(wire: Any) -> SubwireError:
    """The typed exception for an error frame's ``error`` field."""
    from ._errors_gen import ERRORS, RemoteHandlerError

    if not isinstance(wire, dict):
        return UnknownError(str(wire))
    name = str(wire.get("name", "Error"))
    message = str(wire.get("message", name))
    details = {k: v for k, v in wire.items() if k not in ("name", "message", "code", "remote")}
    remote = wire.get("remote") is True
    cls = ERRORS.get(name)
    if cls is not None:
        err = cls(message, remote=remote, details=details)
        if cls is RemoteHandlerError:
            err.remote_name = str(wire.get("remoteName", "Error"))
        return err
    err = UnknownError(message, remote=remote, details=details)
    err.name = name
    return err


def error_to_wire(exc: BaseException) -> dict[str, Any]:
    """How a handler's exception is sent: a subwire error by its name, anything else by its class name."""
    if isinstance(exc, SubwireError):
        return exc.to_wire()
    return {"name": type(exc).__name__, "message": str(exc)}
