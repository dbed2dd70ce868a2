"""
Fault injection against a real C{twistd -n kvstore}, beyond C{kill -9}:
data files corrupted, truncated, deleted and reordered; two servers on one
data directory; a server killed during C{BGSAVE} and started again at once;
a disk that fills up (a small tmpfs, mounted when run as root).

For each fault, what survives must be everything acknowledged, or a refusal
to start that names the problem.  The data is small and nothing sleeps:
every wait polls.
"""

import glob
import os
import shutil
import signal
import struct
import subprocess

import pytest

from kvtwist.dialects.resp import encodeCommand
from tests.harness import (
    STOP_TIMEOUT, KVServer, LineClient, ServerError, twistdCommand, waitFor)

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
    try:
        with pytest.raises(Exception):
            second.start(timeout=15)
    finally:
        second.cleanup()
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
    pidfile = workdir / "twistd.pid"
    if os.path.exists(pidfile):
        # It started after all (a failure): don't leave the daemon behind.
        os.kill(int(pidfile.read_text()), signal.SIGKILL)
    output = result.stdout.decode("utf-8", "replace")
    assert result.returncode != 0, output
    assert ("data directory %s is in use by another kvtwist server (PID %d)"
            % (os.path.abspath(first.dataDir), first.pid)) in output
    assert not os.path.exists(workdir / "twistd.pid")
    assert first.running


# -- helpers --------------------------------------------------------------------

def refusedToStart(server, extraArgs=None):
    """
    Start C{server} and check that it exits non-zero; return what it
    logged since.  (twistd binds the port before the store recovers, so
    the harness may see it listen for a moment.)
    """
    try:
        server.start(server.extraArgs if extraArgs is None else extraArgs)
    except ServerError:
        pass
    assert server.process.wait(timeout=STOP_TIMEOUT) != 0
    return server.logSinceStart()


def logPaths(server):
    """
    The server's log files, in generation order.
    """
    return sorted(glob.glob(os.path.join(server.dataDir, "kvtwist-*.aof")))


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """
    A data directory made once for the module by a real server with
    C{--fsync always}: a snapshot, then three log generations holding
    records, then an empty newest one; and the keys written (every one
    acknowledged).

    @return: C{(path, {key: value})}.
    """
    server = KVServer(tmp_path_factory.mktemp("template"))
    try:
        server.start(["--fsync", "always"])
        r = server.redis(protocol=2)
        model = {}
        r.set("before-snapshot", "s")
        model[b"before-snapshot"] = b"s"
        assert r.save()
        for gen in range(3):
            for i in range(20):
                key = b"g%d:k%d" % (gen, i)
                r.set(key, b"v%d" % (i,))
                model[key] = b"v%d" % (i,)
            r.close()
            server.restart()
            r = server.redis(protocol=2)
            # Answered once the store has recovered (and begun its new
            # generation): twistd listens before that.
            assert r.ping()
        r.close()
        server.stop()
    finally:
        server.cleanup()
    return server.dataDir, model


def filled(makeServer, template):
    """
    A server, not started, on a copy of the template data directory.

    @return: C{(server, {key: value})}.
    """
    path, model = template
    server = makeServer(["--fsync", "always"], start=False)
    shutil.copytree(path, server.dataDir)
    server.extraArgs = ["--fsync", "always"]
    assert len(logPaths(server)) == 4
    return server, dict(model)


def contents(server):
    """
    Every key and its value, over RESP.
    """
    r = server.redis(protocol=2)
    try:
        return {key: r.get(key) for key in r.keys("*")}
    finally:
        r.close()


# -- damaged, missing and misplaced files ----------------------------------------

def test_flippedLengthBitRefuses(makeServer):
    """
    Issue 12's case: the newest log holds 200 records and one bit of
    record 101's length is flipped.  The server refuses to start, naming
    the file and the offset, and truncates nothing (it used to drop
    records 101 to 200 as a torn tail); with --load-damaged it starts with
    records 1 to 100, the old files set aside.
    """
    server = makeServer(["--fsync", "always"])
    r = server.redis(protocol=2)
    for i in range(200):
        r.set("k%d" % (i,), "v")
    r.close()
    server.kill9()
    path = logPaths(server)[-1]
    with open(path, "rb") as f:
        data = f.read()
    offset = 24
    for _ in range(100):
        offset += 12 + struct.unpack_from("<I", data, offset)[0]
    damaged = bytearray(data)
    damaged[offset] ^= 0x04
    with open(path, "wb") as f:
        f.write(bytes(damaged))
    log = refusedToStart(server)
    assert "%s is corrupt at byte %d" % (path, offset) in log
    assert "--load-damaged" in log
    assert os.path.getsize(path) == len(data)
    server.start(["--load-damaged"])
    got = contents(server)
    assert sorted(got) == sorted(b"k%d" % (i,) for i in range(100))
    assert glob.glob(os.path.join(server.dataDir, "damaged-*", "*.aof"))
    server.restart([])
    assert contents(server) == got


@pytest.mark.parametrize("which", ["middle log", "newest log", "snapshot",
                                   "manifest"])
def test_deletedFileRefuses(makeServer, template, which):
    """
    A deleted log (in the middle, or the newest), snapshot or manifest
    refuses to start with a message naming it; nothing is changed.
    """
    server, model = filled(makeServer, template)
    logs = logPaths(server)
    path = {"middle log": logs[len(logs) // 2], "newest log": logs[-1],
            "snapshot": os.path.join(server.dataDir, "kvtwist.snapshot"),
            "manifest": os.path.join(server.dataDir, "kvtwist.manifest")
            }[which]
    os.remove(path)
    before = sorted(os.listdir(server.dataDir))
    log = refusedToStart(server)
    assert os.path.basename(path) in log and "missing" in log, log[-2000:]
    assert sorted(os.listdir(server.dataDir)) == before


def test_emptiedAndTruncatedLogsRefuse(makeServer, template):
    """
    A log emptied, or cut short, that is not the newest refuses to start
    naming it; the newest cut in the middle of a record is a torn tail (as
    a crash while writing leaves it): its last record is dropped with a
    warning naming the file.
    """
    server, model = filled(makeServer, template)
    logs = logPaths(server)
    with open(logs[0], "r+b") as f:
        size = f.seek(0, 2)
        f.truncate(size - 3)
    log = refusedToStart(server)
    assert logs[0] in log and "runs past the end" in log
    open(logs[0], "wb").close()
    log = refusedToStart(server)
    assert logs[0] in log and "empty" in log


def test_newestCutShortIsTornTail(makeServer, template):
    """
    The newest log cut in the middle of its last record starts, dropping
    that record with a warning naming the file (indistinguishable from a
    crash while it was written); every other key is there.
    """
    server, model = filled(makeServer, template)
    server.start(["--fsync", "always"])
    r = server.redis(protocol=2)
    r.set("last", "x")
    r.close()
    server.kill9()
    newest = logPaths(server)[-1]
    with open(newest, "r+b") as f:
        size = f.seek(0, 2)
        f.truncate(size - 1)
    server.start()
    # "Server listening" (what start() waits for) is logged as the port is
    # bound, before the store recovers: the warning may come just after.
    waitFor(lambda: "Dropping a torn last record in %s" % (newest,) in
            server.logSinceStart(), what="the torn record's warning")
    got = contents(server)
    assert b"last" not in got
    assert all(got.get(k) == v for k, v in model.items())


def test_reorderedLogsRefuse(makeServer, template):
    """
    Two logs that swapped names refuse to start: each file's header names
    its generation.
    """
    server, model = filled(makeServer, template)
    a, b = logPaths(server)[:2]
    os.rename(a, a + ".x")
    os.rename(b, a)
    os.rename(a + ".x", b)
    log = refusedToStart(server)
    assert a in log and "renamed or reordered" in log


# -- killed during BGSAVE ---------------------------------------------------------

def children(pid):
    """
    The PIDs of the processes whose parent is C{pid}.
    """
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % (entry,)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.append(int(entry))
    return found


def test_killDuringBgsaveRestartAtOnce(makeServer):
    """
    A server killed with kill -9 while its BGSAVE child writes, started
    again at once: the child dies with it (even stopped, so that it can't
    have finished by itself), the new server has every acknowledged write,
    and its own BGSAVE and a restart keep them.
    """
    server = makeServer(["--fsync", "always"])
    r = server.redis(protocol=2)
    pipe = r.pipeline(transaction=False)
    for i in range(30000):
        pipe.set("k%d" % (i,), "v" * 20)
    pipe.execute()
    r.set("last", "1")
    assert r.bgsave()
    kids = waitFor(lambda: children(server.pid), what="the BGSAVE child")
    r.close()
    try:
        # Stopped, the child can't finish its snapshot on its own: only
        # dying with its server ends it.
        for kid in kids:
            os.kill(kid, signal.SIGSTOP)
        server.kill9()
        waitFor(lambda: all(_state(k) in ("Z", "X") for k in kids),
                timeout=5, what="the child to die with its server")
    finally:
        for kid in kids:
            if _state(kid) not in ("Z", "X"):
                os.kill(kid, signal.SIGKILL)
    server.start()
    r = server.redis(protocol=2)
    assert r.dbsize() == 30001
    assert r.bgsave()
    waitFor(lambda: server.info().get("rdb_bgsave_in_progress") == "0",
            what="BGSAVE")
    assert server.info()["rdb_last_bgsave_status"] == "ok"
    r.set("after", "2")
    r.close()
    server.restart()
    r = server.redis(protocol=2)
    assert r.dbsize() == 30002
    assert r.get("last") == b"1"
    r.close()


def _state(pid):
    try:
        with open("/proc/%d/stat" % (pid,)) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


# -- a full disk --------------------------------------------------------------------

@pytest.fixture
def smallDisk(tmp_path):
    """
    A 2 MB tmpfs, mounted for the test (root only); yields its path and a
    function that resizes it.
    """
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    path = tmp_path / "disk"
    path.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m",
                             "tmpfs", str(path)], capture_output=True)
    if result.returncode != 0:
        pytest.skip("can't mount a tmpfs here: %s"
                    % (result.stderr.decode().strip(),))

    def resize(size):
        subprocess.run(["mount", "-o", "remount,size=%s" % (size,),
                        str(path)], check=True)

    try:
        yield str(path), resize
    finally:
        subprocess.run(["umount", "-l", str(path)])


def fillUntilRefused(r, prefix, limit=20000):
    """
    Write 1 KB values until one is refused; return the keys acknowledged
    and the refusal.
    """
    acknowledged = []
    for i in range(limit):
        key = "%s%d" % (prefix, i)
        try:
            r.set(key, "x" * 1024)
        except redis.ResponseError as e:
            return acknowledged, str(e)
        acknowledged.append(key.encode())
    raise AssertionError("the disk never filled")


@pytest.mark.parametrize("fsync", ["interval", "always"])
def test_diskFullKeepsEveryAcknowledgedWrite(makeServer, smallDisk, fsync):
    """
    Filling the disk: writes get MISCONF (each gets a reply; with --fsync
    interval within about a megabyte of the first failing write);
    SIGTERM then refuses to exit while acknowledged writes are not on disk,
    saying why; once space is freed the server writes them and exits; a
    restart has every acknowledged write.
    """
    path, resize = smallDisk
    server = makeServer(start=False)
    server.dataDir = os.path.join(path, "data")
    server.start(["--fsync", fsync])
    r = server.redis(protocol=2, socket_timeout=5)
    acknowledged, refusal = fillUntilRefused(r, "k")
    assert refusal.startswith("MISCONF"), refusal
    assert "No space left on device" in refusal
    # 2 MB of disk, and refused within about a megabyte past it.
    assert len(acknowledged) < 3500
    r.close()
    server.process.send_signal(signal.SIGTERM)
    waitFor(lambda: "Refusing to exit" in server.logSinceStart(),
            what="the refusal to exit")
    assert server.running
    resize("64m")
    assert server.process.wait(timeout=STOP_TIMEOUT) in (0, -signal.SIGTERM)
    server.start()
    r = server.redis(protocol=2)
    got = set(r.keys("*"))
    r.close()
    assert set(acknowledged) <= got


def test_diskFullShutdownNosave(makeServer, smallDisk):
    """
    While the server refuses to exit, SHUTDOWN answers an error and the
    server goes on (as Redis does when it can't save); SHUTDOWN NOSAVE
    makes it exit, closing the connection without a reply (as Redis does
    on success) and logging loudly what is lost; the writes acknowledged
    before the disk filled and written then survive.
    """
    path, resize = smallDisk
    server = makeServer(start=False)
    server.dataDir = os.path.join(path, "data")
    server.start()
    r = server.redis(protocol=2, socket_timeout=5)
    r.set("early", "1")
    waitFor(lambda: server.info()["aof_pending_bytes"] == "0",
            what="the first write on disk")
    fillUntilRefused(r, "k")
    r.close()
    server.process.send_signal(signal.SIGTERM)
    waitFor(lambda: "Refusing to exit" in server.logSinceStart(),
            what="the refusal to exit")
    with LineClient(server.port) as c:
        c.send(encodeCommand("SHUTDOWN"))
        assert c.readLineBytes() == (b"-ERR Errors trying to SHUTDOWN. "
                                     b"Check logs.")
        assert server.running
        assert "LOST" not in server.logSinceStart()
        c.send(encodeCommand("SHUTDOWN", "NOSAVE"))
        assert c.readUntilClosed() == b""
    assert server.process.wait(timeout=STOP_TIMEOUT) != 0
    assert "LOST" in server.logSinceStart()
    resize("64m")
    server.start()
    r = server.redis(protocol=2)
    assert r.get("early") == b"1"
    r.close()
