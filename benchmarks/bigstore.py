"""
The big-store scenario: load a million small keys, then measure the memory
each costs, the worst PING latency while C{BGSAVE} snapshots them, and the
time to stop, restart and recover them.
"""

import time
from typing import Any, Dict, Optional

from benchmarks.load import PingProbe, loadKeys
from benchmarks.memory import waitRSSSettled, warmUp
from benchmarks.redisbench import BenchmarkPingLoop
from benchmarks.resp import BGSAVE_FIELDS, RespClient, bgsaveInProgress
from benchmarks.servers import Server, start


def _text(value) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def bigStore(server: Server, keys: int, log) -> Dict[str, Any]:
    """
    Load C{keys} small keys into a fresh server, then measure the memory
    per key, the worst PING while BGSAVE runs, and the restart.
    """
    out: Dict[str, Any] = {}
    running = start(server)
    try:
        out["rssWarm"] = warmUp(running.pid, running.port)
        before = waitRSSSettled(running.pid, 0.5)
        took = loadKeys(running.port, keys)
        with RespClient(running.port) as client:
            size = client.command("DBSIZE")
        after = waitRSSSettled(running.pid, 3.0)
        out.update(keys=size, loadSeconds=took, rssBefore=before,
                   rssAfter=after,
                   bytesPerKey=(after - before) / max(size, 1))
        log("  %s: %d keys loaded in %.1fs, %.0f bytes/key"
            % (server.name, size, took, out["bytesPerKey"]))

        probe = PingProbe(running.port)
        bench = BenchmarkPingLoop(running.port)
        probe.start()
        bench.start()
        time.sleep(0.5)
        with RespClient(running.port) as client:
            # The worst PING is BGSAVE's: from the command until 0.3 s
            # after INFO says it is done (the fork, copy-on-write, the
            # install, the compaction of the logs and the log rotation
            # all fall in it), for Redis and kvtwist alike.  The half
            # second before only warms the probes up.
            probe.worst = 0.0
            bench.worstMs = 0.0
            began = time.perf_counter()
            reply = client.command("BGSAVE")
            replyTook = time.perf_counter() - began
            state = None
            while time.perf_counter() - began < 600:
                time.sleep(0.02)
                state = bgsaveInProgress(client.info("persistence"))
                if not state:
                    break
            bgsaveSeconds = time.perf_counter() - began
        time.sleep(0.3)
        probe.stopping.set()
        bench.stopping.set()
        probe.join()
        bench.join()
        out.update(bgsaveReply=_text(reply), bgsaveReplyMs=replyTook * 1000,
                   bgsaveSeconds=bgsaveSeconds,
                   bgsaveFieldFound=state is not None,
                   pingWorstMs=probe.worst * 1000, pings=probe.count,
                   benchmarkPingWorstMs=bench.worstMs if bench.runs else None,
                   probeError=_text(probe.error),
                   benchError=_text(bench.error))
        log("  %s: BGSAVE %.2fs, worst PING %.1f ms (probe), %s ms "
            "(redis-benchmark)" % (server.name, bgsaveSeconds,
                                   out["pingWorstMs"],
                                   out["benchmarkPingWorstMs"]))
        if state is None:
            log("  warning: %s INFO persistence has none of %s"
                % (server.name, ", ".join(BGSAVE_FIELDS)))

        out["stopSeconds"] = running.stop()
        began = time.perf_counter()
        running.launch()
        running.waitReady(timeout=600)
        out["pingAfterRestartSeconds"] = time.perf_counter() - began
        with RespClient(running.port) as client:
            while True:
                size = client.command("DBSIZE")
                if size >= keys or time.perf_counter() - began > 600:
                    break
                time.sleep(0.01)
        out["restartSeconds"] = time.perf_counter() - began
        out["keysAfterRestart"] = size
        log("  %s: stopped in %.2fs, restarted with %d keys in %.2fs"
            % (server.name, out["stopSeconds"], size, out["restartSeconds"]))
    finally:
        running.cleanup()
    return out
