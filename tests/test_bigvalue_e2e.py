"""
End-to-end tests of a big value against a real C{twistd -n kvstore}: the
memory it takes while it comes, once stored and on its way to the log, what
an abandoned upload leaves behind, and that other clients are served while
it comes.
"""

import socket
import threading

import pytest

from tests.harness import encodeCommand, waitFor

#: The value: big enough that the server's own memory is small beside it,
#: small enough for CI.
SIZE = 64 * 1024 * 1024

#: The most memory the server may take over its size before, for the
#: value, counted from the upload's first byte until the log holds it.  The
#: value is received into the very bytes object it becomes (on PyPy, one
#: made in a thread as it starts) and the log record holds it as it is:
#: the value once, plus a little.
PEAK = 1.25

CHUNK = 1024 * 1024


def status(pid: int, field: str) -> int:
    """
    A memory figure of C{/proc/PID/status} (C{VmRSS}, C{VmHWM}), in bytes.
    """
    with open("/proc/%d/status" % (pid,)) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no %s for %d" % (field, pid))


class Peak:
    """
    The peak resident memory of a process from now on: the kernel's
    high-water mark, reset where this process may (its owner), else
    samples every few milliseconds.
    """

    def __init__(self, pid: int):
        self.pid = pid
        self.peak = status(pid, "VmRSS")
        try:
            with open("/proc/%d/clear_refs" % (pid,), "w") as f:
                f.write("5")
            self.exact = True
        except OSError:
            self.exact = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, status(self.pid, "VmRSS"))

    def stop(self) -> int:
        """
        Stop; the peak, in bytes.
        """
        self._stop.set()
        self._thread.join()
        if self.exact:
            return max(self.peak, status(self.pid, "VmHWM"))
        return self.peak


def upload(sock: socket.socket, size: int, total: int):
    """
    Send the start of C{SET big <value>}: the header for a value of
    C{total} bytes, then C{size} bytes of it.
    """
    sock.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % (total,))
    piece = b"x" * CHUNK
    sent = 0
    while sent < size:
        n = min(CHUNK, size - sent)
        sock.sendall(piece if n == CHUNK else piece[:n])
        sent += n


def settled(server) -> int:
    """
    The server's RSS once it stops changing (within a megabyte over half a
    second: from one look to the next).
    """
    last = [None]

    def still():
        now = status(server.pid, "VmRSS")
        if last[0] is None:
            last[0] = now
            return False
        steady = abs(now - last[0]) < (1 << 20)
        last[0] = now
        return steady

    waitFor(still, timeout=30, interval=0.5,
            what="the server's memory to settle")
    return last[0]


def logWritten(server) -> bool:
    """
    Whether the log holds every write so far.
    """
    info = server.info()
    return (info["aof_pending_ops"] == "0" and
            info["aof_flush_in_progress"] == "0")


def test_bigValue(server):
    """
    A 64 MB value, sent in 1 MB pieces while another client sends PING:
    the PING is answered before the upload ends (it is not stalled for
    the whole upload); the value is stored whole; from the first byte
    until the log holds it, the server's memory grows by the value and
    little more (see L{PEAK}).
    """
    with server.redis(protocol=2) as r:
        r.ping()
    before = settled(server)
    peak = Peak(server.pid)
    with socket.create_connection(("127.0.0.1", server.port)) as sock, \
            socket.create_connection(("127.0.0.1", server.port)) as other:
        upload(sock, SIZE // 2, SIZE)
        other.sendall(encodeCommand("PING"))
        other.settimeout(30)
        assert other.recv(100) == b"+PONG\r\n"
        piece = b"x" * CHUNK
        for _ in range(SIZE // 2 // CHUNK):
            sock.sendall(piece)
        sock.sendall(b"\r\n")
        sock.settimeout(60)
        assert sock.recv(100) == b"+OK\r\n"
    waitFor(lambda: logWritten(server), timeout=60,
            what="the value to be written to the log")
    grown = peak.stop() - before
    with server.redis(protocol=2) as r:
        assert r.get("big") == b"x" * SIZE
        assert r.delete("big") == 1
    assert grown < PEAK * SIZE, "the memory peaked %.2fx the value over " \
        "the server's before" % (grown / SIZE,)


def test_abandonedUpload(server):
    """
    An upload of a 128 MB value given up half-way leaves nothing behind:
    the memory it held goes when the client does.
    """
    with server.redis(protocol=2) as r:
        r.ping()
    before = settled(server)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        upload(sock, SIZE, 2 * SIZE)
        waitFor(lambda: status(server.pid, "VmRSS") - before > SIZE // 2,
                what="the server to hold the upload so far")
    waitFor(lambda: status(server.pid, "VmRSS") - before < SIZE // 8,
            timeout=30, what="the abandoned upload's memory to go")
    with server.redis(protocol=2) as r:
        assert r.exists("big") == 0
        assert r.ping()



class Writer(threading.Thread):
    """
    Another client writing small keys in a loop until stopped; keeps
    every reply that was not C{OK}.
    """

    def __init__(self, server):
        threading.Thread.__init__(self, daemon=True)
        self.server = server
        self.done = threading.Event()
        self.written = 0
        self.refused = []

    def run(self):
        import redis
        with self.server.redis(protocol=2, socket_timeout=60) as r:
            while not self.done.is_set():
                try:
                    r.set("small:%d" % (self.written,), "v")
                except redis.ResponseError as e:
                    self.refused.append(str(e))
                self.written += 1

    def stop(self):
        """
        Stop writing; wait for the thread.
        """
        self.done.set()
        self.join(60)


@pytest.mark.parametrize("fsync,command", [
    ("interval", "SET"), ("always", "SET"), ("no", "SET"),
    ("interval", "MSET")])
def test_bigValueNeverRefusesOthers(makeServer, fsync, command):
    """
    A value bigger than what the log may hold unwritten (64 MB), with a
    healthy disk, in each C{--fsync} mode, by C{SET} or C{MSET}: while it
    is sealed and written, another client's writes all get C{OK}, never
    C{MISCONF} (which means a failing disk); the big value is stored and
    in the log.
    """
    server = makeServer(["--fsync", fsync])
    size = 80 * 1024 * 1024
    other = Writer(server)
    other.start()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        if command == "SET":
            sock.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % (size,))
        else:
            sock.sendall(b"*5\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n"
                         b"$3\r\nbig\r\n$%d\r\n" % (size,))
        piece = b"x" * CHUNK
        for _ in range(size // CHUNK):
            sock.sendall(piece)
        sock.sendall(b"\r\n")
        sock.settimeout(60)
        assert sock.recv(100) == b"+OK\r\n"
    # (Not logWritten: the other client keeps writing.)
    waitFor(lambda: int(server.info()["aof_current_size"]) > size,
            timeout=60, what="the value to be written to the log")
    other.stop()
    assert other.refused == []
    assert other.written > 0
    with server.redis(protocol=2) as r:
        assert r.strlen("big") == size
