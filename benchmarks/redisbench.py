# -*- test-case-name: benchmarks.test.test_redisbench -*-
"""
Driving C{redis-benchmark}, and reading what it prints.
"""

import csv
import io
import subprocess
import threading
from typing import Dict, List, Optional


def parseBenchmarkCSV(text: str) -> Dict[str, Dict[str, float]]:
    """
    Parse the C{--csv} output of C{redis-benchmark}.

    Recent versions print a header
    (C{"test","rps","avg_latency_ms",...,"max_latency_ms"}) and one row per
    test; old ones print C{"SET","12345.67"} rows without a header.

    @param text: what C{redis-benchmark --csv} wrote on stdout.
    @return: test name (upper case, e.g. C{"SET"}, C{"PING_MBULK"}) ->
        column name (C{"rps"}, C{"max_latency_ms"}, ...) -> value.
    """
    results: Dict[str, Dict[str, float]] = {}
    header: Optional[List[str]] = None
    for row in csv.reader(io.StringIO(text)):
        if not row:
            continue
        if row[0] == "test":
            header = row
            continue
        name = row[0].strip().upper()
        names = header if header is not None else ["test", "rps"]
        values = {}
        for column, cell in zip(names[1:], row[1:]):
            try:
                values[column] = float(cell)
            except ValueError:
                continue
        if "rps" in values:
            results[name] = values
    return results


def parseLatencySummary(text: str) -> Dict[str, float]:
    """
    Parse the last "latency summary" of C{redis-benchmark}'s full (not
    C{-q}, not C{--csv}) output::

        Summary:
          throughput summary: 121951.22 requests per second
          latency summary (msec):
                  avg       min       p50       p95       p99       max
                0.004     0.000     0.007     0.007     0.015     0.095

    @return: C{"avg"}, C{"min"}, C{"p50"}, C{"p95"}, C{"p99"}, C{"max"} in
        milliseconds, and C{"rps"} when the throughput line is there; empty
        if no summary was found.
    """
    lines = text.replace("\r", "\n").splitlines()
    found: Dict[str, float] = {}
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("throughput summary:"):
            try:
                found["rps"] = float(stripped.split(":", 1)[1].split()[0])
            except (IndexError, ValueError):
                pass
        if stripped.startswith("latency summary") and i + 2 < len(lines):
            names = lines[i + 1].split()
            cells = lines[i + 2].split()
            try:
                values = [float(c) for c in cells]
            except ValueError:
                continue
            if len(names) == len(values):
                found.update(zip(names, values))
    return found


def redisBenchmark(port: int, tests: str, clients: int, requests: int,
                   keyspace: int = 0, pipeline: int = 1,
                   binary: str = "redis-benchmark"
                   ) -> Dict[str, Dict[str, float]]:
    """
    Run C{redis-benchmark --csv} once against C{port}.

    @return: L{parseBenchmarkCSV} of its output.
    @raise RuntimeError: if it fails or prints no result.
    """
    argv = [binary, "-h", "127.0.0.1", "-p", str(port), "-t", tests,
            "-c", str(clients), "-n", str(requests), "--csv"]
    if keyspace:
        argv += ["-r", str(keyspace)]
    if pipeline > 1:
        argv += ["-P", str(pipeline)]
    done = subprocess.run(argv, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=3600)
    out = done.stdout.decode("utf-8", "replace")
    results = parseBenchmarkCSV(out)
    if done.returncode != 0 or not results:
        raise RuntimeError("%s failed (%s): %s %s" % (
            " ".join(argv), done.returncode, out[-500:],
            done.stderr.decode("utf-8", "replace")[-500:]))
    return results


class BenchmarkPingLoop(threading.Thread):
    """
    A thread running C{redis-benchmark -t ping_mbulk -c 1 --csv} in short
    runs back to back until stopped, keeping the worst C{max_latency_ms}.
    """

    def __init__(self, port: int, chunk: int = 5000):
        threading.Thread.__init__(self, daemon=True)
        self.port = port
        self.chunk = chunk
        self.stopping = threading.Event()
        self.worstMs = 0.0
        self.runs = 0
        self.error: Optional[BaseException] = None

    def run(self):
        try:
            while not self.stopping.is_set():
                result = redisBenchmark(self.port, "ping_mbulk", 1,
                                        self.chunk)
                self.runs += 1
                worst = result.get("PING_MBULK", {}).get("max_latency_ms")
                if worst is not None:
                    self.worstMs = max(self.worstMs, worst)
        except BaseException as e:
            self.error = e
