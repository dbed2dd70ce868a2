# -*- test-case-name: benchmarks.test.test_instructions -*-
"""
C{python -m benchmarks.instructions}: the instructions a kvtwist server
runs per request, counted by valgrind's callgrind, to compare two versions
where timing cannot settle a few percent (a shared machine's requests per
second move by more than that from one run to the next).

Each server is C{LABEL=PYTHON}: an interpreter whose environment imports
the kvtwist to measure (a checkout's virtualenv).  It runs as C{twistd -n
kvstore} with its defaults, under C{valgrind --tool=callgrind} with the
instrumentation off until the measured load begins (C{callgrind_control
-i on}) and after it ends; C{redis-benchmark -c 50 -r 10000} gives the
load, the same for every server.  What is counted is the whole server
process in user space: reactor, protocol, store, journal, Python itself;
not the kernel.  The counts repeat within about 1% from round to round
(within a few hundredths of a percent for a fresh server each time).

Needs C{valgrind} (Debian: C{apt-get install valgrind}) and
C{redis-benchmark}; CPython only (a JIT's counts depend on its warm-up).

    python -m benchmarks.instructions \\
        --server before=/path/to/old/.venv/bin/python \\
        --server now=.venv/bin/python
"""

import argparse
import glob
import os
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from benchmarks.redisbench import redisBenchmark
from benchmarks.report import median
from benchmarks.servers import TWISTD, Running, Server, killAll, start

#: The loads measured by default: (test, pipeline, requests).
TESTS = [("get", 1, 20000), ("set", 1, 20000),
         ("get", 16, 80000), ("set", 16, 80000)]

#: The key space of every load (C{-r}): the fill sets most of its keys, so
#: that most GETs find theirs.
KEYSPACE = 10000


def callgrindServer(label: str, python: str) -> Server:
    """
    kvtwist with its default options, run by C{python} under callgrind
    with the instrumentation off (see L{measure}).
    """
    def argv(port, directory):
        return ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                "--callgrind-out-file=" + os.path.join(directory,
                                                       "callgrind.out"),
                python, "-c", TWISTD, "-n", "--pidfile=", "kvstore",
                "--port", "tcp:%d:interface=127.0.0.1" % (port,),
                "--data-dir", directory]
    server = Server(label, "kvtwist", argv, label, python)
    # The same string hashes in every run, so dicts probe the same way.
    server.env["PYTHONHASHSEED"] = "0"
    return server


def totalInstructions(dump: str) -> Optional[int]:
    """
    The instructions counted in a callgrind dump: its C{totals:} line, the
    last it writes (a dump asked for by C{callgrind_control} has
    C{summary: 0} in its header), or L{None} if it has none yet.
    """
    for line in reversed(dump.splitlines()):
        if line.startswith("totals:"):
            return int(line.split()[1])
    return None


def _control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control"] + list(args) + [str(pid)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, timeout=120)


def _dumped(directory: str, before: Sequence[str],
            timeout: float = 120.0) -> int:
    """
    The instructions of the dump that appeared in C{directory} after the
    files C{before}, once it is written.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = sorted(set(glob.glob(os.path.join(directory,
                                                "callgrind.out.*")))
                     - set(before))
        for path in new:
            with open(path) as f:
                total = totalInstructions(f.read())
            if total is not None:
                os.remove(path)
                return total
        time.sleep(0.2)
    raise RuntimeError("no callgrind dump in %s" % (directory,))


def measure(running: Running, test: str, pipeline: int,
            requests: int) -> float:
    """
    The instructions per request of C{requests} C{test} requests (after a
    short warm-up of the same), C{pipeline} at a time per client.
    """
    port = running.port
    redisBenchmark(port, test, 50, 2000, KEYSPACE, pipeline)
    before = glob.glob(os.path.join(running.directory, "callgrind.out.*"))
    _control(running.pid, "-i", "on")
    try:
        redisBenchmark(port, test, 50, requests, KEYSPACE, pipeline)
    finally:
        _control(running.pid, "-i", "off")
    _control(running.pid, "-d")
    return _dumped(running.directory, before) / requests


def table(labels: List[str],
          results: Dict[Tuple[str, int], Dict[str, List[float]]]) -> str:
    """
    The medians per request, one row per load, and each server's ratio to
    the first one.
    """
    head = ["load"] + labels + ["%s/%s" % (label, labels[0])
                                for label in labels[1:]]
    rows = [head, ["---"] * len(head)]
    for (test, pipeline), counts in results.items():
        medians = [median(counts[label]) for label in labels]
        rows.append(["%s -P %d" % (test.upper(), pipeline)]
                    + ["{:,.0f}".format(m) for m in medians]
                    + ["%.3f" % (m / medians[0],) for m in medians[1:]])
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def parseServer(text: str) -> Tuple[str, str]:
    """
    C{LABEL=PYTHON} -> C{(label, python)}.
    """
    label, equals, python = text.partition("=")
    if not (label and equals and python):
        raise argparse.ArgumentTypeError(
            "expected LABEL=PYTHON, got %r" % (text,))
    return label, python


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.instructions",
        description="Instructions per request of kvtwist servers, counted "
                    "by callgrind (see the module's docstring).")
    parser.add_argument("--server", type=parseServer, action="append",
                        required=True, metavar="LABEL=PYTHON",
                        help="a server to measure (two or more to compare; "
                             "ratios are to the first)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="measurements of each load per server "
                             "(default 2): the table gives their medians")
    options = parser.parse_args(argv)
    labels = [label for label, _ in options.server]
    results: Dict[Tuple[str, int], Dict[str, List[float]]] = {
        (test, pipeline): {label: [] for label in labels}
        for test, pipeline, _ in TESTS}
    servers = []
    try:
        for label, python in options.server:
            running = start(callgrindServer(label, python))
            servers.append(running)
            # Most keys of the key space set, for GET to find.
            redisBenchmark(running.port, "set", 50, 20000, KEYSPACE, 16)
        for index in range(options.rounds):
            order = servers if index % 2 == 0 else servers[::-1]
            for test, pipeline, requests in TESTS:
                for running in order:
                    perRequest = measure(running, test, pipeline, requests)
                    results[(test, pipeline)][running.server.name].append(
                        perRequest)
                    print("round %d: %s -P %d on %s: %.0f" % (
                        index + 1, test.upper(), pipeline,
                        running.server.name, perRequest), flush=True)
    finally:
        for running in servers:
            running.cleanup()
        killAll()
    print()
    print("Instructions per request, median of %d round(s):" % (
        options.rounds,))
    print(table(labels, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
