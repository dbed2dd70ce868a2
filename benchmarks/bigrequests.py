# -*- test-case-name: benchmarks.test.test_bigrequests -*-
"""
The big-request scenarios: one request that is huge, and what it costs the
server and everyone else.

    - one C{MSET} of a million arguments: how long it takes, from its
      first byte sent to its reply, and another client's worst C{PING}
      meanwhile (a command runs whole, so it may hold the server for its
      own execution, as it does in Redis);
    - one C{SET} of a big value (400 MB by default): how long it takes,
      another client's worst C{PING} while it is uploaded and stored, and
      the server's peak memory over the value from the upload until the
      value is on disk; then an upload of twice that abandoned half-way,
      and what it leaves behind.
"""

import socket
import threading
import time
from typing import Any, Callable, Dict, Optional

from benchmarks.load import PingProbe
from benchmarks.memory import rss, waitRSSSettled
from benchmarks.report import formatTable
from benchmarks.resp import RespClient
from benchmarks.servers import Server, start


def msetRequest(pairs: int) -> bytes:
    """
    One C{MSET} of C{pairs} keys (C{k0000001}...) and short values.
    """
    parts = [b"*%d\r\n$4\r\nMSET\r\n" % (2 * pairs + 1,)]
    for i in range(pairs):
        key = b"k%07d" % (i,)
        value = b"%d" % (i,)
        parts.append(b"$%d\r\n%s\r\n$%d\r\n%s\r\n"
                     % (len(key), key, len(value), value))
    return b"".join(parts)


class PeakRSS:
    """
    The peak resident memory of a process from now on: from the kernel's
    high-water mark, reset through C{/proc/PID/clear_refs} where that may
    be written (Linux, the process's owner), else from samples every few
    milliseconds (which can miss a short peak).
    """

    def __init__(self, pid: int, interval: float = 0.005):
        self.pid = pid
        self.exact = _resetHighWater(pid)
        self._peak = rss(pid)
        self._stop = threading.Event()
        self._thread = None
        if not self.exact:
            self._thread = threading.Thread(target=self._sample,
                                            args=(interval,), daemon=True)
            self._thread.start()

    def _sample(self, interval: float):
        while not self._stop.wait(interval):
            try:
                self._peak = max(self._peak, rss(self.pid))
            except OSError:
                return

    def peak(self) -> int:
        """
        The peak so far, in bytes.
        """
        if self.exact:
            return max(self._peak, _highWater(self.pid))
        return self._peak

    def stop(self) -> int:
        """
        Stop sampling; the peak, in bytes.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.peak()


def _resetHighWater(pid: int) -> bool:
    try:
        with open("/proc/%d/clear_refs" % (pid,), "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _highWater(pid: int) -> int:
    with open("/proc/%d/status" % (pid,)) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


#: The largest bulk string both servers take by default (Redis's
#: C{proto-max-bulk-len}, kvtwist's C{--max-bulk}).
MAX_BULK = 512 * 1024 * 1024


def _timed(port: int, send: Callable[[socket.socket], None]) -> float:
    """
    Send a request with C{send} on a new connection, wait for its reply's
    first line; the seconds from the first byte sent to the reply.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=600) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        began = time.perf_counter()
        send(sock)
        reply = b""
        while not reply.endswith(b"\r\n"):
            data = sock.recv(1024)
            if not data:
                raise ConnectionError("closed before replying")
            reply += data
        took = time.perf_counter() - began
    if not reply.startswith(b"+OK"):
        raise ConnectionError("unexpected reply %r" % (reply[:200],))
    return took


def _sendValue(header: bytes, size: int, chunk: int = 1 << 20,
               trailer: bytes = b"\r\n") -> Callable[[socket.socket], None]:
    piece = b"x" * chunk

    def send(sock: socket.socket):
        sock.sendall(header)
        left = size
        while left:
            n = min(left, chunk)
            sock.sendall(piece if n == chunk else piece[:n])
            left -= n
        sock.sendall(trailer)

    return send


def bigRequests(server: Server, pairs: int, megabytes: int,
                log) -> Dict[str, Any]:
    """
    Run both scenarios on a fresh server.
    """
    out: Dict[str, Any] = {"msetArguments": 2 * pairs + 1,
                           "bulkMB": megabytes}
    running = start(server)
    try:
        port = running.port
        with RespClient(port) as client:
            client.command("PING")
        wire = msetRequest(pairs)
        out["msetBytes"] = len(wire)
        probe = PingProbe(port)
        probe.start()
        time.sleep(0.3)
        out["msetSeconds"] = _timed(port, lambda s: s.sendall(wire))
        time.sleep(0.3)
        probe.stopping.set()
        probe.join()
        out["msetPingWorstMs"] = probe.worst * 1000
        wire = b""  # the request's megabytes go before the next scenario
        log("  %s: MSET of %d arguments in %.2fs, worst PING %.0f ms"
            % (server.name, out["msetArguments"], out["msetSeconds"],
               out["msetPingWorstMs"]))
        with RespClient(port) as client:
            client.command("FLUSHALL")
        time.sleep(1.5)
        size = megabytes * 1024 * 1024
        before = waitRSSSettled(running.pid, 1.0)
        peak = PeakRSS(running.pid)
        probe = PingProbe(port)
        probe.start()
        time.sleep(0.3)
        out["bulkSeconds"] = _timed(port, _sendValue(
            b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % (size,), size))
        # The value on its way to disk counts too (the log flushes every
        # second).
        time.sleep(3.0)
        probe.stopping.set()
        probe.join()
        out["bulkPingWorstMs"] = probe.worst * 1000
        out["bulkPeakOverValue"] = (peak.stop() - before) / size
        out["bulkPeakExact"] = peak.exact
        log("  %s: SET of %d MB in %.2fs, worst PING %.0f ms, peak RSS "
            "%.2fx the value over the empty server"
            % (server.name, megabytes, out["bulkSeconds"],
               out["bulkPingWorstMs"], out["bulkPeakOverValue"]))
        with RespClient(port) as client:
            client.command("DEL", "big")
        before = waitRSSSettled(running.pid, 2.0)
        # Announced as twice the value, within both servers' largest bulk
        # (Redis's proto-max-bulk-len, 512 MB, refuses more at once), and
        # abandoned after the value's size (or just before its end).
        announced = min(2 * size, MAX_BULK)
        with socket.create_connection(("127.0.0.1", port)) as sock:
            _sendValue(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n"
                       % (announced,), min(size, announced - 1),
                       trailer=b"")(sock)
            time.sleep(0.5)
            out["abandonedHeldMB"] = (rss(running.pid) - before) / 1e6
        after = waitRSSSettled(running.pid, 2.0)
        out["abandonedLeftMB"] = (after - before) / 1e6
        log("  %s: an upload of %d MB abandoned half-way held %.0f MB, "
            "left %.0f MB" % (server.name, announced // (1 << 20),
                              out["abandonedHeldMB"],
                              out["abandonedLeftMB"]))
        with RespClient(port) as client:
            client.command("PING")
    finally:
        running.stop()
        running.cleanup()
    return out


def bigRequestsTable(results: Dict[str, Dict[str, Any]]) -> Optional[str]:
    """
    The big-request figures, one column per server, with the ratio to
    Redis's under each timing.
    """
    if not results:
        return None
    names = list(results)
    redis = results.get("redis", {})
    rows = []
    for label, field, compare in [
            ("MSET arguments", "msetArguments", False),
            ("MSET request (MB)", "msetBytes", False),
            ("MSET, first byte to reply (s)", "msetSeconds", True),
            ("worst PING during the MSET (ms)", "msetPingWorstMs", True),
            ("SET of a value (MB)", "bulkMB", False),
            ("SET, first byte to reply (s)", "bulkSeconds", True),
            ("worst PING during the SET and its flush (ms)",
             "bulkPingWorstMs", True),
            ("peak RSS over the empty server / value", "bulkPeakOverValue",
             False),
            ("abandoned upload of twice that: held half-way (MB)",
             "abandonedHeldMB", False),
            ("  left after it (MB)", "abandonedLeftMB", False)]:
        line = [label]
        for name in names:
            value = results[name].get(field)
            if field == "msetBytes" and value is not None:
                value = value / 1e6
            line.append(value)
        rows.append(line)
        if compare:
            ratios = ["  ratio to redis"]
            for name in names:
                mine = results[name].get(field)
                theirs = redis.get(field)
                ratios.append(None if not mine or not theirs
                              else mine / theirs)
            rows.append(ratios)
    return formatTable(["figure"] + names, rows)
