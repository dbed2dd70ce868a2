"""
End-to-end tests of PyPy's nursery under C{twistd kvstore}: never left
oversized, and C{PYPY_GC_NURSERY} set by the user is kept (see
L{kvtwist.nursery}).  PyPy only: CPython has no nursery to report.
"""

import os
import platform

import pytest

redis = pytest.importorskip("redis")

from kvtwist import nursery  # noqa: E402

pytestmark = pytest.mark.skipif(
    platform.python_implementation() != "PyPy",
    reason="PyPy's nursery")


def nurseryOf(server) -> int:
    client = server.redis(protocol=2)
    try:
        return int(client.info("memory")["gc_nursery_bytes"])
    finally:
        client.close()


def test_neverOversized(makeServer):
    """
    Without C{PYPY_GC_NURSERY} the server runs with PyPy's own nursery
    when it is no larger than L{nursery.LARGEST}, else with
    L{nursery.CHOSEN}, and logs that choice; the server works either way.
    """
    server = makeServer(start=False)
    server.env = {nursery.ENV: None, nursery.MARKER: None}
    server.start()
    size = nurseryOf(server)
    assert size <= nursery.LARGEST
    own = nursery.nurserySize()
    if own is not None and own > nursery.LARGEST and \
            nursery.ENV not in os.environ:
        assert size == nursery.parseSize(nursery.CHOSEN)
        assert "kvtwist runs with PYPY_GC_NURSERY=" in server.logSinceStart()
    client = server.redis(protocol=2)
    client.set("k", "v")
    assert client.get("k") == b"v"
    client.close()


def test_userChoiceKept(makeServer):
    """
    C{PYPY_GC_NURSERY} set by the user is kept, however large.
    """
    server = makeServer(start=False)
    server.env = {nursery.ENV: "100MB"}
    server.start()
    assert nurseryOf(server) == 100 * 1024 * 1024
    assert "kvtwist runs with" not in server.logSinceStart()
