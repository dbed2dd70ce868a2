"""
The throughput scenario: C{redis-benchmark} SET and GET, unpipelined and
pipelined, and the closed-loop text load, alternating A B A B between
each kvtwist (or calibration) server and C{redis-server}.
"""

import os
from typing import Any, Dict, List

from benchmarks.load import KVTWIST_TEXT_REPLIES, REDIS_TEXT_REPLIES, \
    textLoad
from benchmarks.profiling import startPySpy, stopPySpy
from benchmarks.redisbench import redisBenchmark
from benchmarks.report import summarizeRounds
from benchmarks.resp import RespClient
from benchmarks.servers import Running, Server, start

#: The C{redis-benchmark} throughput tests and pipeline depths.
TESTS = ("SET", "GET")
PIPELINES = (1, 16)

#: The environment variable PyPy reads its nursery size from.
NURSERY_ENV = "PYPY_GC_NURSERY"


def throughputRound(running: Running, args) -> Dict[str, float]:
    """
    SET and GET, unpipelined and pipelined, against one server.

    @return: row name (C{"SET P1"}, C{"GET P16"}) -> requests per second.
    """
    rows = {}
    for pipeline in PIPELINES:
        result = redisBenchmark(running.port, ",".join(TESTS).lower(),
                                args.clients, args.requests, args.keyspace,
                                pipeline)
        for test in TESTS:
            if test in result:
                rows["%s P%d" % (test, pipeline)] = result[test]["rps"]
    return rows


def nurseryOf(running: Running) -> str:
    """
    The GC nursery kvtwist runs with (C{INFO memory}'s
    C{gc_nursery_bytes}, on PyPy), or C{""} where it has none.
    """
    with RespClient(running.port) as client:
        return client.info("memory").get("gc_nursery_bytes", "")


def alternate(servers: List[Server], redis: Server, args, log
              ) -> Dict[str, Any]:
    """
    Alternate redis-benchmark and the text load between each kvtwist and
    Redis, C{args.rounds} times.

    A calibration server runs with the GC nursery kvtwist ran with on the
    same interpreter (on PyPy, C{twistd kvstore} may choose its own), so
    both are compared with the same collector settings: list the kvtwist
    servers first.

    @return: per server name: its rounds, its summary rows, and the
        text-load summary.
    """
    results = {}
    nurseries: Dict[str, str] = {}
    for server in servers:
        if server.kind == "reference" and nurseries.get(server.python):
            server.env.setdefault(NURSERY_ENV, nurseries[server.python])
        log("throughput: %s vs redis, %d rounds" % (server.name, args.rounds))
        mine = start(server)
        theirs = start(redis)
        spy = None
        try:
            if server.kind == "kvtwist":
                nurseries[server.python] = nurseryOf(mine)
            spy = startPySpy(args.py_spy, server.name, server.version,
                             mine.pid)
            if args.warmup:
                # Untimed: lets PyPy's JIT compile the hot path and both
                # stores reach their working size before the first round.
                for running in (mine, theirs):
                    redisBenchmark(running.port, "set,get", args.clients,
                                   args.warmup, args.keyspace)
                    redisBenchmark(running.port, "set,get", args.clients,
                                   args.warmup, args.keyspace, 16)
            rounds = []
            textRounds = []
            for i in range(args.rounds):
                rnd = {}
                text = {}
                for running, key, replies in (
                        (mine, "kvtwist", KVTWIST_TEXT_REPLIES),
                        (theirs, "redis", REDIS_TEXT_REPLIES)):
                    if "throughput" in args.parts:
                        rnd[key] = throughputRound(running, args)
                    if "text" in args.parts and \
                            server.kind != "reference":
                        text[key] = {"TEXT SET/GET": textLoad(
                            running.port, replies, args.text_clients,
                            args.text_seconds, args.text_processes)}
                    log("  round %d %s (load %.2f): %s" % (
                        i + 1, key, os.getloadavg()[0], ", ".join(
                            "%s %.0f" % kv for kv in sorted(
                                list(rnd.get(key, {}).items())
                                + list(text.get(key, {}).items())))))
                rounds.append(rnd)
                textRounds.append(text)
            results[server.name] = {
                "rounds": rounds,
                "summary": summarizeRounds(rounds),
                "textRounds": textRounds,
                "textSummary": summarizeRounds(textRounds),
            }
            if spy is not None:
                results[server.name]["profile"] = stopPySpy(*spy)
        finally:
            if spy is not None and spy[0].poll() is None:
                spy[0].kill()
            theirs.cleanup()
            mine.cleanup()
    return results
