"""
The idle-connections scenario: hold thousands of idle connections to a
fresh server, check that they stay connected, and measure the memory each
costs.
"""

import select
import socket
import time
from typing import Any, Dict, List

from benchmarks.memory import waitRSSSettled, warmUp
from benchmarks.resp import encodeCommand
from benchmarks.servers import Server, raiseFileLimit, start

#: Connections opened at a time before waiting for the server to accept
#: them: below Twisted's default listen backlog (50).
ACCEPT_BATCH = 32


def idleConnections(server: Server, count: int, log) -> Dict[str, Any]:
    """
    Hold C{count} idle connections to a fresh server; check they stay
    connected (PING on a sample, EOF check on all) and measure the memory
    each costs.
    """
    raiseFileLimit()
    running = start(server)
    socks: List[socket.socket] = []
    try:
        warm = warmUp(running.pid, running.port)
        before = waitRSSSettled(running.pid, 0.5)
        began = time.perf_counter()
        failed = 0
        for start_ in range(0, count, ACCEPT_BATCH):
            batch = []
            for _ in range(min(ACCEPT_BATCH, count - start_)):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.settimeout(30)
                try:
                    s.connect(("127.0.0.1", running.port))
                except OSError:
                    s.close()
                    failed += 1
                    continue
                batch.append(s)
            socks.extend(batch)
            # The kernel completes a connect before the server accepts it;
            # a PING answered on the batch's last connection means the
            # server has accepted the whole batch (the accept queue is
            # FIFO), so the queue never overflows its listen backlog.
            if batch:
                try:
                    batch[-1].sendall(encodeCommand("PING"))
                    batch[-1].recv(64)
                except OSError:
                    pass
        openSeconds = time.perf_counter() - began
        after = waitRSSSettled(running.pid, 2.0)
        step = max(1, len(socks) // 100)
        sample = socks[::step]
        answered = 0
        for s in sample:
            try:
                s.sendall(encodeCommand("PING"))
                if s.recv(64).startswith(b"+PONG"):
                    answered += 1
            except OSError:
                pass
        alive = countAlive(socks)
        out = dict(requested=count, opened=len(socks), failed=failed,
                   alive=alive, sampled=len(sample), sampleAnswered=answered,
                   openSeconds=openSeconds, rssWarm=warm, rssBefore=before,
                   rssAfter=after,
                   bytesPerConnection=(after - before) / max(len(socks), 1))
        log("  %s: %d/%d connections held (%d/%d sampled PINGs answered), "
            "%.0f bytes each, opened in %.1fs"
            % (server.name, alive, count, answered, len(sample),
               out["bytesPerConnection"], openSeconds))
        return out
    finally:
        for s in socks:
            s.close()
        running.cleanup()


def countAlive(socks: List[socket.socket]) -> int:
    """
    How many of C{socks} have not been closed by the server: a socket with
    no pending input is alive; one readable with nothing to read is at EOF.
    """
    poller = select.poll()
    byFd = {}
    for s in socks:
        poller.register(s.fileno(), select.POLLIN | select.POLLHUP)
        byFd[s.fileno()] = s
    dead = 0
    for fd, events in poller.poll(0):
        s = byFd[fd]
        try:
            data = s.recv(4096, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            continue
        except OSError:
            dead += 1
            continue
        if not data or data.startswith(b"-ERR"):
            dead += 1
    return len(socks) - dead
