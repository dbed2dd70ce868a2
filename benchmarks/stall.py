"""
The stall scenario: one request that could hold the server for everyone.
While a client sends C{KEYS} with a pathological glob pattern
(C{a*a*a*a*a*a*a*a*a*a*a*a*b}: a matcher that backtracks tries every way to
place its stars, hours on a 40-byte key), a probe on another connection
PINGs one request at a time; the figures are how long the KEYS took and
the worst PING meanwhile, Redis measured beside it the same way.
"""

import time
from typing import Any, Dict

from benchmarks.load import PingProbe
from benchmarks.resp import RespClient
from benchmarks.servers import Server, start


def globStall(server: Server, log, stars: int = 12,
              keys: int = 10000) -> Dict[str, Any]:
    """
    Start C{server}, store one 40-byte key of C{a}s and C{keys} others,
    then time C{KEYS} with C{stars} stars (C{a*} repeated, then C{b})
    while the PING probe runs.
    """
    out: Dict[str, Any] = {}
    running = start(server)
    try:
        with RespClient(running.port) as client:
            client.command("SET", b"a" * 40, b"v")
            for first in range(0, keys, 1000):
                pairs = []
                for i in range(first, min(keys, first + 1000)):
                    pairs += [b"key:%d" % (i,), b"v"]
                client.command("MSET", *pairs)
            pattern = b"a*" * stars + b"b"
            probe = PingProbe(running.port)
            probe.start()
            time.sleep(0.3)
            began = time.perf_counter()
            reply = client.command("KEYS", pattern)
            took = time.perf_counter() - began
            time.sleep(0.3)
            probe.stopping.set()
            probe.join()
        out.update(stars=stars, keys=keys + 1, matches=len(reply),
                   keysMs=took * 1000, pingWorstMs=probe.worst * 1000,
                   pings=probe.count,
                   probeError=None if probe.error is None
                   else str(probe.error))
        log("  %s: KEYS with %d stars over %d keys took %.1f ms, worst "
            "PING meanwhile %.1f ms" % (server.name, stars, keys + 1,
                                        out["keysMs"], out["pingWorstMs"]))
    finally:
        running.cleanup()
    return out
