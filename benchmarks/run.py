# -*- test-case-name: benchmarks.test.test_run -*-
"""
C{python -m benchmarks}: the command line, and the run.

The benchmark starts C{redis-server} (persistence off) and kvtwist (default
options, persistence on) as subprocesses on loopback ports, each in its own
temporary directory, and measures, alternating A B A B:

  - requests per second from C{redis-benchmark} for SET and GET with 50
    clients, unpipelined and with C{-P 16}, over a key space (C{-r}) so the
    store really grows; the ratio kvtwist/redis is the median of the
    per-round ratios (L{benchmarks.throughput});
  - a closed-loop load on the text protocol (C{SET k v} / C{GET k}, one
    request in flight per connection) for both servers (Redis takes the same
    lines as its inline protocol);

and then: the front end over a local Redis Cluster alternating with
standalone kvtwist, and C{redis-benchmark --cluster} straight at the
nodes (L{benchmarks.cluster}); for a store of 1,000,000 small keys
loaded with pipelined C{MSET} batches: the memory each key costs, the
worst PING latency while C{BGSAVE} snapshots it, the time to restart and recover it
(L{benchmarks.bigstore}), and 10,000 idle connections held with the memory
each costs (L{benchmarks.idle}); one huge request of each kind, a
million-argument C{MSET} and a 400 MB value, with another client's worst
PING meanwhile and the memory the value takes (L{benchmarks.bigrequests});
and the worst PING of another client while one sends C{KEYS} with a
pathological glob pattern (L{benchmarks.stall}).

kvtwist runs on CPython (the interpreter running the benchmark) and, when
C{pypy3} is installed, on PyPy from its own virtualenv (created on first use,
see C{--pypy-venv}).
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import sys
import time
from typing import List, Optional

from benchmarks.bigrequests import bigRequests, bigRequestsTable
from benchmarks.bigstore import bigStore
from benchmarks.cluster import clusterRounds, clusterTable
from benchmarks.idle import idleConnections
from benchmarks.report import figuresTable, throughputTable
from benchmarks.stall import globStall
from benchmarks.servers import (DEFAULT_PYPY_VENV, ensurePyPyVenv,
                                interpreterVersion, killAll, kvtwistServer,
                                output, raiseFileLimit, redisServer,
                                referenceServer)
from benchmarks.throughput import alternate


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark kvtwist beside redis-server on this machine "
                    "(run from a checkout of kvtwist).")
    p.add_argument("--rounds", type=int, default=3,
                   help="A B alternations of each throughput test "
                        "(default 3)")
    p.add_argument("-n", "--requests", type=int, default=200000,
                   help="redis-benchmark -n for each test (default 200000)")
    p.add_argument("--warmup", type=int, default=50000,
                   help="untimed redis-benchmark -n against each server "
                        "before the rounds (default 50000; 0: none)")
    p.add_argument("-c", "--clients", type=int, default=50,
                   help="redis-benchmark -c (default 50)")
    p.add_argument("-r", "--keyspace", type=int, default=100000,
                   help="redis-benchmark -r (default 100000)")
    p.add_argument("--keys", type=int, default=1000000,
                   help="keys in the big store (default 1000000)")
    p.add_argument("--connections", type=int, default=10000,
                   help="idle connections to hold (default 10000)")
    p.add_argument("--text-clients", type=int, default=50,
                   help="closed-loop text-protocol clients (default 50)")
    p.add_argument("--text-processes", type=int,
                   default=min(2, os.cpu_count() or 1),
                   help="processes generating the text load (default: "
                        "2, or 1 on a 1-CPU machine)")
    p.add_argument("--text-seconds", type=float, default=3.0,
                   help="seconds of text-protocol load per run (default 3)")
    p.add_argument("--mset-pairs", type=int, default=500000,
                   help="key-value pairs of the one huge MSET (default "
                        "500000: 1000001 arguments)")
    p.add_argument("--bulk-mb", type=int, default=400,
                   help="megabytes of the one big SET value (default 400)")
    p.add_argument("--parts",
                   default="throughput,text,bigstore,idle,bigrequests,"
                           "glob,cluster",
                   help="comma-separated parts to run (default all: "
                        "throughput,text,bigstore,idle,bigrequests,glob,"
                        "cluster)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: -n 10000, 1 round, 100000 keys, "
                        "2000 connections, 1 s text load")
    p.add_argument("--python", default=sys.executable,
                   help="CPython to run kvtwist with (default: this one)")
    pypy = p.add_mutually_exclusive_group()
    pypy.add_argument("--pypy", dest="pypy", action="store_true",
                      default=None,
                      help="also run kvtwist on PyPy, creating the "
                           "virtualenv if missing (default when pypy3 is "
                           "installed)")
    pypy.add_argument("--no-pypy", dest="pypy", action="store_false",
                      help="CPython only")
    p.add_argument("--pypy-venv", default=DEFAULT_PYPY_VENV,
                   help="PyPy virtualenv with kvtwist installed, created "
                        "if missing (default %s)" % (DEFAULT_PYPY_VENV,))
    p.add_argument("--no-cpython", action="store_true",
                   help="skip kvtwist on CPython")
    p.add_argument("--py-spy", metavar="DIR",
                   help="profile kvtwist on CPython with py-spy during the "
                        "throughput rounds; collapsed stacks go to DIR "
                        "(py-spy pauses the server to sample it: the "
                        "ratios of a profiled run are lower)")
    p.add_argument("--no-reference", dest="reference", action="store_false",
                   help="skip the calibration servers (benchmarks.reference:"
                        " minimal Twisted SET/GET servers, line by line and "
                        "in raw mode) in the throughput rounds")
    p.add_argument("--json", metavar="FILE",
                   help="also write every result to FILE as JSON")
    return p


def parseArgs(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """
    Parse the command line, applying C{--quick}.
    """
    args = _parser().parse_args(argv)
    if args.quick:
        defaults = _parser().parse_args([])
        for name, value in (("requests", 10000), ("rounds", 1),
                            ("warmup", 5000),
                            ("keys", 100000), ("connections", 2000),
                            ("text_seconds", 1.0), ("mset_pairs", 100000),
                            ("bulk_mb", 40)):
            if getattr(args, name) == getattr(defaults, name):
                setattr(args, name, value)
    args.parts = set(p.strip() for p in args.parts.split(",") if p.strip())
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """
    Run the benchmark and print its tables.
    """
    args = parseArgs(argv)

    def log(message):
        print(message, file=sys.stderr, flush=True)

    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            log("%s is not installed" % (tool,))
            return 2
    raiseFileLimit()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    try:
        return _run(args, log)
    finally:
        killAll()


def _run(args, log) -> int:
    started = time.time()
    redis = redisServer()
    servers = []
    if not args.no_cpython:
        servers.append(kvtwistServer(args.python, "CPython"))
    wantPyPy = args.pypy
    if wantPyPy is None:
        wantPyPy = shutil.which("pypy3") is not None
    if wantPyPy:
        servers.append(kvtwistServer(ensurePyPyVenv(args.pypy_venv, log=log),
                                     "PyPy"))
    references = []
    if args.reference:
        # Only for the throughput rounds: what a minimal Twisted server
        # reaches on this machine, beside the same redis-server.
        references = [referenceServer(s.python, s.name.split(" ", 1)[1], raw)
                      for s in servers for raw in (False, True)]
    machine = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "kernel": platform.release(),
        "redis": redis.version,
        "redis-benchmark": output(["redis-benchmark", "--version"]).strip(),
        "kvtwist": {s.name: s.version for s in servers},
        "bench": interpreterVersion(sys.executable),
        "loadavgBefore": os.getloadavg(),
    }
    settings = {k: (sorted(v) if isinstance(v, set) else v)
                for k, v in vars(args).items()}
    log("kvtwist benchmark, %(date)s, %(cpus)s CPUs, %(redis)s" % machine)
    if machine["loadavgBefore"][0] > 0.5 * (machine["cpus"] or 1):
        log("warning: load average %.2f: the machine is busy, expect noise"
            % (machine["loadavgBefore"][0],))

    throughput = {}
    if args.parts & {"throughput", "text"}:
        throughput = alternate(servers + references, redis, args, log)
    big = {}
    idle = {}
    stalls = {}
    huge = {}
    for server in [redis] + servers:
        if "bigstore" in args.parts:
            log("big store: %s, %d keys" % (server.name, args.keys))
            big[server.name] = bigStore(server, args.keys, log)
        if "idle" in args.parts:
            log("idle connections: %s, %d" % (server.name, args.connections))
            idle[server.name] = idleConnections(server, args.connections,
                                                log)
        if "bigrequests" in args.parts:
            log("big requests: %s, MSET of %d pairs, SET of %d MB"
                % (server.name, args.mset_pairs, args.bulk_mb))
            huge[server.name] = bigRequests(server, args.mset_pairs,
                                            args.bulk_mb, log)
        if "glob" in args.parts:
            log("glob stall: %s" % (server.name,))
            stalls[server.name] = globStall(server, log)

    clustered = {}
    if "cluster" in args.parts:
        clustered = clusterRounds(servers, args, log)

    machine["loadavgAfter"] = os.getloadavg()
    print()
    print("kvtwist vs redis, %s, %s CPUs (os.cpu_count), %s" % (
        machine["date"], machine["cpus"], machine["redis"]))
    print("  load average before %.2f, after %.2f (other work on the "
          "machine skews the ratios)" % (machine["loadavgBefore"][0],
                                         machine["loadavgAfter"][0]))
    for name, version in machine["kvtwist"].items():
        print("  %s: %s" % (name, version))
    print("  redis-benchmark: -c %d -n %d -r %d, %d round(s); text load: "
          "%d clients x %.0f s; run took %.0f s"
          % (args.clients, args.requests, args.keyspace, args.rounds,
             args.text_clients, args.text_seconds, time.time() - started))
    if throughput:
        print()
        print("Requests per second (median of rounds; ratio = median of "
              "per-round kvtwist/redis)")
        print(throughputTable(throughput))
    for name, result in throughput.items():
        if result.get("profile"):
            print()
            print("py-spy, %s, self time (%s):" % (
                name, result["profile"]["path"]))
            for percent, frame in result["profile"]["top"]:
                print("  %5.1f%%  %s" % (percent, frame))
    if big or idle:
        print()
        print("Big store (%d keys of 3 bytes) and %d idle connections"
              % (args.keys, args.connections))
        print(figuresTable(big, idle))
    if huge:
        print()
        print("Big requests: one MSET of %d arguments, one SET of %d MB"
              % (2 * args.mset_pairs + 1, args.bulk_mb))
        print(bigRequestsTable(huge))
    if stalls:
        print()
        print("KEYS a*a*a*a*a*a*a*a*a*a*a*a*b over 10,001 keys (one of 40 "
              "a's) and another client's worst PING meanwhile")
        for name, result in stalls.items():
            print("  %-16s KEYS %8.1f ms   worst PING %8.1f ms   (%d PINGs)"
                  % (name, result["keysMs"], result["pingWorstMs"],
                     result["pings"]))
    if clustered:
        print()
        print("Front end over a local Redis Cluster (3 primaries, no "
              "replicas) vs standalone kvtwist, requests per second "
              "(median of rounds; ratio = median of per-round front "
              "end/standalone); cluster direct: redis-benchmark --cluster "
              "at the nodes")
        print(clusterTable(clustered))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "settings": settings,
                       "throughput": throughput, "bigStore": big,
                       "idle": idle, "bigRequests": huge,
                       "globStall": stalls, "cluster": clustered}, f,
                      indent=2, default=str)
        log("results written to %s" % (args.json,))
    return 0
