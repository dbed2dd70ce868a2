"""
End-to-end tests of PyPy's nursery under C{twistd kvstore}: never left
oversized or undersized, and C{PYPY_GC_NURSERY} set by the user is kept (see
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


def test_nurseryInRange(makeServer):
    """
    Without C{PYPY_GC_NURSERY} the server runs with PyPy's own nursery
    when it is from L{nursery.SMALLEST} to L{nursery.LARGEST}, else with
    L{nursery.CHOSEN}, and logs that choice; the server works either way.
    """
    server = makeServer(start=False)
    server.env = {nursery.ENV: None, nursery.MARKER: None}
    server.start()
    size = int(server.info()["gc_nursery_bytes"])
    assert nursery.SMALLEST <= size <= nursery.LARGEST
    own = nursery.nurserySize()
    if own is not None and not nursery.SMALLEST <= own <= nursery.LARGEST \
            and nursery.ENV not in os.environ:
        assert size == nursery.parseSize(nursery.CHOSEN)
        assert "kvtwist asked for PYPY_GC_NURSERY=%s and runs with %d MB" % (
            nursery.CHOSEN, size // (1024 * 1024)) in server.logSinceStart()
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
    assert int(server.info()["gc_nursery_bytes"]) == 100 * 1024 * 1024
    assert "kvtwist asked for" not in server.logSinceStart()


def test_daemonized(tmp_path):
    """
    Without C{-n} (daemonized), the process run again with its new nursery
    is the one that writes the pid file, logs and serves.
    """
    import signal
    import subprocess

    from tests.harness import HOST, listeningAddresses, twistdCommand, \
        waitFor
    pidfile = tmp_path / "twistd.pid"
    logfile = tmp_path / "twistd.log"
    env = {k: v for k, v in os.environ.items()
           if k not in (nursery.ENV, nursery.MARKER)}
    subprocess.run(twistdCommand() + [
        "--pidfile", str(pidfile), "--logfile", str(logfile), "kvstore",
        "--port", "tcp:0:interface=%s" % (HOST,),
        "--data-dir", str(tmp_path / "data")],
        env=env, check=True, timeout=60, stdin=subprocess.DEVNULL)
    waitFor(lambda: pidfile.exists() and pidfile.read_text().strip(),
            what="the pid file")
    pid = int(pidfile.read_text())
    try:
        (_, port), = waitFor(
            lambda: listeningAddresses(logfile.read_text()),
            what="the server to listen")
        client = redis.Redis(host=HOST, port=port, protocol=2,
                             socket_timeout=10)
        info = client.info()
        client.close()
        assert info["process_id"] == pid
        assert nursery.SMALLEST <= int(info["gc_nursery_bytes"]) <= \
            nursery.LARGEST
    finally:
        os.kill(pid, signal.SIGTERM)
    waitFor(lambda: not pidfile.exists(), what="the server to exit")
