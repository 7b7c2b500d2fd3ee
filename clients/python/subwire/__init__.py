"""subwire for Python: use a running subwire peer from asyncio.

>>> import subwire
>>> client = await subwire.connect()                      # ~/.subwire/api.sock or $SUBWIRE_HOME
>>> await client.query(dest, "score", {"uid": 3}, timeout=5)
>>> @client.handler("score")
... async def score(body, caller): return {"for": caller.ss58}

See the package README and docs/API.md of the subwire repository.
"""
from . import errors
from ._errors_gen import *  # noqa: F401,F403 - one class per TypeScript error name
from ._errors_gen import ERRORS
from .client import API_VERSION, Caller, Client, Event, EventStream, Progress, connect, default_home
from .errors import SubwireError, UnknownError

__version__ = "0.1.0"

__all__ = ["API_VERSION", "Caller", "Client", "Event", "EventStream", "Progress", "SubwireError", "UnknownError", "ERRORS", "connect", "default_home", "errors", "__version__"]
