# -*- test-case-name: benchmarks.test.test_memory -*-
"""
A server's resident memory, as the kernel reports it, and the waiting
that makes two readings comparable: a warmed-up start, a settled end.
"""

import time

from benchmarks.redisbench import redisBenchmark


def parseVmRSS(status: str) -> int:
    """
    The resident set size, in bytes, from the text of C{/proc/PID/status}.

    @raise ValueError: if there is no C{VmRSS} line.
    """
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            parts = line.split()
            scale = {"kb": 1024, "mb": 1024 * 1024, "b": 1}
            unit = parts[2].lower() if len(parts) > 2 else "kb"
            return int(parts[1]) * scale.get(unit, 1024)
    raise ValueError("no VmRSS line")


def rss(pid: int) -> int:
    """
    The resident set size of process C{pid}, in bytes.
    """
    with open("/proc/%d/status" % (pid,)) as f:
        return parseVmRSS(f.read())


def warmUp(pid: int, port: int, requests: int = 200000, rounds: int = 10,
           settled: int = 1 << 20) -> int:
    """
    Send a fresh server pipelined C{GET}s of missing keys (the store stays
    empty) until its RSS grows by less than C{settled} bytes in a run of
    C{requests}, and return that RSS.

    A fresh process hasn't yet touched memory its steady state uses however
    few keys it holds: the allocator's first pages and, on PyPy, the whole
    GC nursery, which PyPy sizes from the CPU's reported cache (240 MB on a
    machine reporting 480 MB of L3).  Growth measured from here is what the
    keys, or the connections, cost; the warmed-up RSS is reported beside it.
    """
    last = rss(pid)
    for _ in range(rounds):
        redisBenchmark(port, "get", 50, requests, keyspace=1000000,
                       pipeline=16)
        now = rss(pid)
        if now - last < settled:
            return now
        last = now
    return last


def waitRSSSettled(pid: int, seconds: float = 2.0, limit: float = 10.0,
                   step: float = 0.5, within: int = 1 << 20) -> int:
    """
    Wait C{seconds} (the flush interval passes), then until the RSS moves
    by less than C{within} bytes over C{step} seconds (kvtwist on PyPy
    collects the garbage of a burst once it is quiet), at most C{limit}
    seconds in all; return the RSS.
    """
    began = time.monotonic()
    time.sleep(seconds)
    last = rss(pid)
    while time.monotonic() - began < limit:
        time.sleep(step)
        now = rss(pid)
        if abs(now - last) < within:
            return now
        last = now
    return last
