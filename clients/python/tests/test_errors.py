"""The error classes renamed in issue 16: the old names still arrive and still import."""
from __future__ import annotations

import pytest

import subwire
from subwire.errors import error_from_wire

RENAMED = [
    ("AbortError", "OperationAbortedError"),
    ("ConnectionClosedError", "ConnectionLostError"),
    ("NotStartedError", "PeerNotStartedError"),
    ("UnexpectedPeerError", "UnexpectedHotkeyError"),
]


@pytest.mark.parametrize(("old", "new"), RENAMED)
def test_a_renamed_error_is_read_from_its_wire_name_and_its_new_name(old: str, new: str) -> None:
    cls = getattr(subwire, new)
    assert getattr(subwire, old) is cls, "the old name stays importable as the same class"
    for name in (old, new):
        err = error_from_wire({"name": name, "message": "from the peer"})
        assert type(err) is cls
        assert err.name == new
        assert err.message == "from the peer"
