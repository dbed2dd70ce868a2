# -*- test-case-name: benchmarks.test.test_cluster -*-
"""
The cluster scenario (C{--parts cluster}): kvtwist as a front end over a
local Redis Cluster, beside standalone kvtwist on the same interpreter,
and C{redis-benchmark --cluster} straight at the nodes (the price of the
hop).

A cluster of three primaries and no replicas (replication would add work
on the machine, not on the path measured) is started once, on free
loopback ports, joined by C{redis-cli --cluster create}.  For each
interpreter, a front end (C{twistd kvstore --backend
redis-cluster://...}) and a standalone kvtwist (default options,
persistence on) are measured alternately with C{redis-benchmark} SET and
GET, 50 clients, unpipelined and C{-P 16}; then the nodes directly.  The
ratio front end / standalone is the median of the per-round ratios.
"""

import os
import shutil
import subprocess
import tempfile
import time
from typing import Any, Dict, List, Optional

from benchmarks.redisbench import parseBenchmarkCSV, redisBenchmark
from benchmarks.report import formatTable, summarizeRounds
from benchmarks.resp import ReplyError, RespClient
from benchmarks.servers import (
    _LIVE, TWISTD, Server, freePort, interpreterVersion, raiseFileLimit,
    start)
from benchmarks.throughput import PIPELINES, TESTS, throughputRound


class LocalCluster:
    """
    A Redis Cluster of C{primaries} local C{redis-server} processes, no
    replicas, persistence off.

    @ivar ports: the nodes' client ports.
    """

    def __init__(self, primaries: int = 3, binary: str = "redis-server"):
        self.primaries = primaries
        self.binary = binary
        self.ports: List[int] = []
        self.directory: Optional[str] = None
        self.procs: List[subprocess.Popen] = []

    def start(self, timeout: float = 30.0) -> "LocalCluster":
        """
        Start the nodes, join them, wait until every one says
        C{cluster_state:ok}.
        """
        self.directory = tempfile.mkdtemp(prefix="kvtwist-bench-cluster-")
        for i in range(self.primaries):
            port, bus = freePort(), freePort()
            where = os.path.join(self.directory, str(port))
            os.makedirs(where)
            proc = subprocess.Popen(
                [self.binary, "--port", str(port), "--cluster-port",
                 str(bus), "--bind", "127.0.0.1", "--cluster-enabled",
                 "yes", "--cluster-config-file", "nodes.conf",
                 "--cluster-node-timeout", "1000", "--save", "",
                 "--appendonly", "no", "--dir", where, "--daemonize", "no",
                 "--logfile", "redis.log"],
                cwd=where, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                preexec_fn=raiseFileLimit)
            _LIVE.add(proc)
            self.procs.append(proc)
            self.ports.append(port)
        deadline = time.monotonic() + timeout
        for port in self.ports:
            while not self._answers(port):
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server on %d did not start"
                                       % (port,))
                time.sleep(0.02)
        done = subprocess.run(
            ["redis-cli", "--cluster", "create"] +
            ["127.0.0.1:%d" % (p,) for p in self.ports] +
            ["--cluster-replicas", "0", "--cluster-yes"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError("redis-cli --cluster create failed: %s"
                               % (done.stdout.decode()[-1000:],))
        while not all(self._ok(p) for p in self.ports):
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster is not ok after %ss"
                                   % (timeout,))
            time.sleep(0.05)
        return self

    def _answers(self, port: int) -> bool:
        try:
            with RespClient(port, timeout=1) as client:
                return client.command("PING") == b"PONG"
        except (OSError, ReplyError):
            return False

    def _ok(self, port: int) -> bool:
        try:
            with RespClient(port, timeout=1) as client:
                info = client.command("CLUSTER", "INFO")
        except (OSError, ReplyError):
            return False
        return b"cluster_state:ok" in info

    @property
    def seeds(self) -> str:
        """
        The C{--backend} value naming every node.
        """
        return "redis-cluster://" + ",".join(
            "127.0.0.1:%d" % (p,) for p in self.ports)

    def flush(self) -> None:
        """
        Empty every node.
        """
        for port in self.ports:
            with RespClient(port, timeout=10) as client:
                client.command("FLUSHALL")

    def stop(self) -> None:
        """
        Kill the nodes and remove their directory.
        """
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            _LIVE.discard(proc)
        self.procs = []
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)


def frontEndServer(python: str, label: str, seeds: str) -> Server:
    """
    kvtwist as a front end over the cluster at C{seeds}, run by C{python}.
    """
    def argv(port, directory):
        return [python, "-c", TWISTD, "-n", "--pidfile=", "kvstore",
                "--port", "tcp:%d:interface=127.0.0.1" % (port,),
                "--backend", seeds]
    return Server("front end " + label, "kvtwist-cluster", argv,
                  interpreterVersion(python), python)


def directRound(cluster: LocalCluster, args) -> Dict[str, float]:
    """
    SET and GET with C{redis-benchmark --cluster} straight at the nodes.
    """
    rows = {}
    for pipeline in PIPELINES:
        argv = ["redis-benchmark", "--cluster", "-h", "127.0.0.1", "-p",
                str(cluster.ports[0]), "-t", ",".join(TESTS).lower(),
                "-c", str(args.clients), "-n", str(args.requests), "--csv"]
        if args.keyspace:
            argv += ["-r", str(args.keyspace)]
        if pipeline > 1:
            argv += ["-P", str(pipeline)]
        done = subprocess.run(argv, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=3600)
        result = parseBenchmarkCSV(done.stdout.decode("utf-8", "replace"))
        for test in TESTS:
            if test in result:
                rows["%s P%d" % (test, pipeline)] = result[test]["rps"]
    return rows


def clusterRounds(servers: List[Server], args, log) -> Dict[str, Any]:
    """
    For each kvtwist server (one per interpreter), its front end over one
    cluster and itself alternately, C{args.rounds} times; the nodes
    directly after each round.

    @return: per interpreter label: its rounds and summary (subject
        C{"front end"}, baseline C{"standalone"}), and the direct rows.
    """
    cluster = LocalCluster().start()
    results: Dict[str, Any] = {}
    try:
        for server in servers:
            label = server.name.split(" ", 1)[1]
            log("cluster: front end %s vs standalone, %d rounds"
                % (label, args.rounds))
            front = start(frontEndServer(server.python, label,
                                         cluster.seeds))
            alone = start(server)
            try:
                if args.warmup:
                    for running in (front, alone):
                        for pipeline in PIPELINES:
                            redisBenchmark(running.port, "set,get",
                                           args.clients, args.warmup,
                                           args.keyspace, pipeline)
                rounds = []
                direct = []
                for i in range(args.rounds):
                    rnd = {"front end": throughputRound(front, args),
                           "standalone": throughputRound(alone, args)}
                    rounds.append(rnd)
                    direct.append({"cluster": directRound(cluster, args)})
                    log("  round %d (load %.2f): %s" % (
                        i + 1, os.getloadavg()[0], "; ".join(
                            "%s %s" % (who, ", ".join(
                                "%s %.0f" % kv for kv in sorted(
                                    rows.items())))
                            for who, rows in list(rnd.items()) +
                            list(direct[-1].items()))))
                results[label] = {
                    "rounds": rounds,
                    "summary": summarizeRounds(rounds, "front end",
                                               "standalone"),
                    "direct": summarizeRounds(direct, "cluster",
                                              "cluster"),
                }
            finally:
                front.cleanup()
                alone.cleanup()
                cluster.flush()
    finally:
        cluster.stop()
    return results


#: What the issue asks of the front end: its share of standalone
#: kvtwist's requests per second, by pipeline depth.
TARGETS = {"P1": 0.5, "P16": 0.4}


def clusterTable(results: Dict[str, Any]) -> str:
    """
    The cluster scenario's table: per interpreter and row, the front end,
    standalone kvtwist, their ratio (and the target), and the nodes
    straight.
    """
    rows = []
    for label, result in results.items():
        direct = {r["name"]: r["cluster"] for r in result["direct"]}
        for row in result["summary"]:
            depth = row["name"].split()[-1]
            rows.append(["%s %s" % (label, row["name"]), row["front end"],
                         row["standalone"], row["ratio"],
                         TARGETS.get(depth), direct.get(row["name"])])
    return formatTable(["", "front end", "standalone", "ratio", "target",
                        "cluster direct"], rows)
