"""
Fault injection against a real C{twistd -n kvstore}, beyond C{kill -9}:
data files corrupted, truncated, deleted and reordered; two servers on one
data directory; a server killed during C{BGSAVE} and started again at once;
a disk that fills up (a small tmpfs, mounted when run as root).

For each fault, what survives must be everything acknowledged, or a refusal
to start that names the problem.  The data is small and nothing sleeps:
every wait polls.
"""

import os
import subprocess

import pytest

from tests.harness import KVServer, twistdCommand

redis = pytest.importorskip("redis")


# -- two servers on one data directory ----------------------------------------

def test_secondServerRefusedForeground(makeServer, tmp_path):
    """
    A second C{twistd -n kvstore} on a data directory a running server
    uses exits non-zero at once, with one line naming the directory and the
    running server's PID; the first server's data is untouched.
    """
    first = makeServer()
    r = first.redis(protocol=2)
    r.set("mine", "1")
    second = KVServer(tmp_path / "second", dataDir=first.dataDir)
    with pytest.raises(Exception):
        second.start(timeout=15)
    assert second.process.returncode != 0
    line = "data directory %s is in use by another kvtwist server (PID %d)" % (
        os.path.abspath(first.dataDir), first.pid)
    assert line in second.stderr, second.stderr
    assert r.get("mine") == b"1"
    assert r.bgsave()
    r.close()
    first.restart()
    r = first.redis(protocol=2)
    assert r.get("mine") == b"1"
    r.close()


def test_secondServerRefusedDaemon(makeServer, tmp_path):
    """
    Daemonized (twistd without C{-n}), the second server is refused too:
    the command exits non-zero with the same one line.
    """
    first = makeServer()
    workdir = tmp_path / "daemon"
    workdir.mkdir()
    result = subprocess.run(
        twistdCommand() + [
            "--logfile", str(workdir / "twistd.log"),
            "--pidfile", str(workdir / "twistd.pid"),
            "kvstore", "--port", "tcp:0:interface=127.0.0.1",
            "--data-dir", first.dataDir],
        cwd=str(workdir), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, timeout=60)
    output = result.stdout.decode("utf-8", "replace")
    assert result.returncode != 0, output
    assert ("data directory %s is in use by another kvtwist server (PID %d)"
            % (os.path.abspath(first.dataDir), first.pid)) in output
    assert not os.path.exists(workdir / "twistd.pid")
    assert first.running
