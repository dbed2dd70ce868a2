# -*- test-case-name: kvtwist.test.test_bench -*-
"""
kvtwist beside redis-server, in one run: C{python -m kvtwist.bench}.

The benchmark starts C{redis-server} (persistence off) and kvtwist (default
options, persistence on) as subprocesses on free loopback ports, each in its
own temporary directory, and measures, alternating A B A B:

  - requests per second from C{redis-benchmark} for SET and GET with 50
    clients, unpipelined and with C{-P 16}, over a key space (C{-r}) so the
    store really grows; the ratio kvtwist/redis is the median of the
    per-round ratios;
  - a closed-loop load on the text protocol (C{SET k v} / C{GET k}, one
    request in flight per connection) for both servers (Redis takes the same
    lines as its inline protocol);

and then, for a store of 1,000,000 small keys loaded with pipelined C{MSET}
batches: the memory each key costs (growth of the process's VmRSS from an
empty server warmed up with pipelined GETs, see L{warmUp}), the
worst PING latency while C{BGSAVE} snapshots it, the time to restart and
recover it, and 10,000 idle connections held with the memory each costs.

kvtwist runs on CPython (the interpreter running the benchmark) and, when
C{pypy3} is installed, on PyPy from its own virtualenv (created on first use,
see C{--pypy-venv}).  Nothing here imports the reactor: the load generators
are plain sockets, threads and asyncio.

This is a measurement tool, not a test: run it on a quiet machine, and read
the ratios, not the absolute numbers.
"""

import argparse
import asyncio
import csv
import datetime
import io
import json
import os
import platform
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from kvtwist.dialects.resp import encodeCommand

#: Where C{--pypy} keeps its virtualenv unless told otherwise.
DEFAULT_PYPY_VENV = os.path.join(tempfile.gettempdir(), "kvtwist-pypy-venv")

#: The repository this module was imported from (installed into the PyPy
#: virtualenv).
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: How kvtwist is started: twistd's entry point run by a given interpreter,
#: so that the process we start is the server (no wrapper script).
_TWISTD = "import sys; from twisted.scripts.twistd import run; run()"

#: The C{redis-benchmark} throughput tests and pipeline depths.
TESTS = ("SET", "GET")
PIPELINES = (1, 16)


# ---------------------------------------------------------------------------
# Pure parsing and summary helpers (unit-tested in kvtwist.test.test_bench)
# ---------------------------------------------------------------------------

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
    results = {}  # type: Dict[str, Dict[str, float]]
    header = None  # type: Optional[List[str]]
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
    found = {}  # type: Dict[str, float]
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


def parseInfo(text: str) -> Dict[str, str]:
    """
    Parse an C{INFO} reply (C{field:value} lines, C{#} section titles).

    @return: field -> value, as strings.
    """
    fields = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        name, value = line.split(":", 1)
        fields[name] = value
    return fields


#: INFO fields that say a background save is running, in the order tried.
BGSAVE_FIELDS = ("rdb_bgsave_in_progress", "bgsave_in_progress",
                 "snapshot_in_progress", "kvtwist_bgsave_in_progress")


def bgsaveInProgress(info: Dict[str, str]) -> Optional[bool]:
    """
    Whether an C{INFO persistence} reply says a background save is running.

    @return: L{True} or L{False}, or L{None} if no known field is there.
    """
    for name in BGSAVE_FIELDS:
        if name in info:
            value = info[name].strip().lower()
            return value not in ("0", "no", "false", "")
    return None


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


def median(values: Iterable[float]) -> Optional[float]:
    """
    The median of C{values}, or L{None} if there are none (L{None} items
    are skipped).
    """
    present = [v for v in values if v is not None]
    if not present:
        return None
    return statistics.median(present)


def combinedRate(rates: Sequence[Optional[float]]) -> Optional[float]:
    """
    The rate of running the same number of requests of each test one after
    the other: the harmonic mean of the rates (SET+GET from SET and GET).
    """
    if not rates or any(r is None or r <= 0 for r in rates):
        return None
    return len(rates) / sum(1.0 / r for r in rates)


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    """
    C{a / b}, or L{None} if either is missing or C{b} is zero.
    """
    if a is None or b is None or b == 0:
        return None
    return a / b


def summarizeRounds(rounds: List[Dict[str, Dict[str, float]]],
                    subject: str = "kvtwist",
                    baseline: str = "redis") -> List[Dict[str, Any]]:
    """
    Summarise alternated throughput rounds.

    @param rounds: one item per round: server name -> row name (such as
        C{"SET P1"}) -> requests per second.  A row C{"SET+GET P1"} is added
        for each pipeline depth for which both SET and GET are present.
    @return: one row per row name, in first-seen order: C{name},
        C{subject} (median rps), C{baseline} (median rps), C{ratio} (median
        of the per-round ratios, which pairs each run with its neighbour)
        and C{ratios} (the per-round ratios).
    """
    names = []  # type: List[str]
    expanded = []
    for rnd in rounds:
        full = {}
        for server, rows in rnd.items():
            rows = dict(rows)
            for name in list(rows):
                if name.startswith("SET "):
                    rest = name[len("SET "):]
                    if "GET " + rest in rows:
                        rows["SET+GET " + rest] = combinedRate(
                            [rows[name], rows["GET " + rest]])
            full[server] = rows
            for name in rows:
                if name not in names:
                    names.append(name)
        expanded.append(full)
    summary = []
    for name in names:
        mine = [r.get(subject, {}).get(name) for r in expanded]
        theirs = [r.get(baseline, {}).get(name) for r in expanded]
        ratios = [ratio(a, b) for a, b in zip(mine, theirs)]
        summary.append({
            "name": name,
            subject: median(mine),
            baseline: median(theirs),
            "ratio": median(ratios),
            "ratios": ratios,
        })
    return summary


def formatTable(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """
    Lay out rows as a plain-text table: first column left-aligned, the
    others right-aligned; L{None} shows as C{-}, floats with sensible
    precision.
    """
    def cell(value):
        if value is None:
            return "-"
        if isinstance(value, float):
            if abs(value) >= 1000:
                return "{:,.0f}".format(value)
            if abs(value) >= 10:
                return "%.1f" % (value,)
            return "%.2f" % (value,)
        if isinstance(value, int):
            return "{:,}".format(value)
        return str(value)
    text = [[cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))

    def line(values):
        out = []
        for i, value in enumerate(values):
            out.append(value.ljust(widths[i]) if i == 0
                       else value.rjust(widths[i]))
        return "  ".join(out).rstrip()
    result = [line(list(headers)),
              "  ".join("-" * w for w in widths)]
    result.extend(line(row) for row in text)
    return "\n".join(result)


def topFrames(collapsed: str, count: int = 15) -> List[Any]:
    """
    The frames where most samples were taken, from a C{py-spy record
    --format raw} profile (collapsed stacks: C{frame;frame;frame N}).

    @return: C{(percent of samples, frame)} pairs, largest first, by self
        time (the innermost frame of each stack).
    """
    counts = {}  # type: Dict[str, int]
    total = 0
    for line in collapsed.splitlines():
        stack, _, n = line.rstrip().rpartition(" ")
        if not stack or not n.isdigit():
            continue
        total += int(n)
        frame = stack.split(";")[-1]
        counts[frame] = counts.get(frame, 0) + int(n)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(100.0 * n / total, frame) for frame, n in ranked[:count]]


class Incomplete(Exception):
    """
    The buffer ends before the reply does.
    """


class ReplyError(Exception):
    """
    The server answered with a RESP error.
    """


def parseReply(buf: bytes, pos: int = 0):
    """
    Parse one RESP2/RESP3 reply from C{buf} at C{pos}.

    @return: C{(value, next position)}; errors are returned as
        L{ReplyError} instances, not raised.
    @raise Incomplete: if C{buf} ends first.
    """
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete()
    kind = buf[pos:pos + 1]
    line = buf[pos + 1:end]
    nxt = end + 2
    if kind in (b"+", b"_", b"#", b",", b"("):
        return (None if kind == b"_" else line), nxt
    if kind == b"-":
        return ReplyError(line.decode("utf-8", "replace")), nxt
    if kind == b":":
        return int(line), nxt
    if kind in (b"$", b"=", b"!"):
        size = int(line)
        if size < 0:
            return None, nxt
        if len(buf) < nxt + size + 2:
            raise Incomplete()
        return buf[nxt:nxt + size], nxt + size + 2
    if kind in (b"*", b"~", b">", b"%", b"|"):
        count = int(line)
        if count < 0:
            return None, nxt
        if kind in (b"%", b"|"):
            count *= 2
        items = []
        for _ in range(count):
            item, nxt = parseReply(buf, nxt)
            items.append(item)
        return items, nxt
    raise ValueError("unknown RESP type %r" % (kind,))


def keyName(i: int, width: int = 6) -> bytes:
    """
    The name of the C{i}th key the loader writes: C{key:000042}.
    """
    return b"key:%0*d" % (width, i)


def keyWidth(count: int) -> int:
    """
    The digits the loader's key names use for C{count} keys (at least 6).
    """
    return max(6, len(str(max(count - 1, 0))))


# ---------------------------------------------------------------------------
# A blocking RESP client, just enough for the benchmark's own commands
# ---------------------------------------------------------------------------

class RespClient:
    """
    A blocking RESP connection to one server.
    """

    def __init__(self, port: int, host: str = "127.0.0.1",
                 timeout: float = 60.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = b""
        self._pos = 0

    def close(self):
        """
        Close the connection.
        """
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def readReply(self):
        """
        Read one reply.

        @raise ConnectionError: if the server closes the connection.
        """
        while True:
            try:
                value, pos = parseReply(self._buf, self._pos)
            except Incomplete:
                data = self.sock.recv(1 << 20)
                if not data:
                    raise ConnectionError("server closed the connection")
                self._buf = self._buf[self._pos:] + data
                self._pos = 0
                continue
            self._pos = pos
            return value

    def command(self, *args):
        """
        Send one command and return its reply.

        @raise ReplyError: if the reply is an error.
        """
        self.sock.sendall(encodeCommand(*args))
        reply = self.readReply()
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    def info(self, section: str = "") -> Dict[str, str]:
        """
        C{INFO [section]}, parsed.
        """
        args = ("INFO", section) if section else ("INFO",)
        reply = self.command(*args)
        if isinstance(reply, bytes):
            reply = reply.decode("utf-8", "replace")
            if reply.startswith("txt:"):
                reply = reply[4:]
        return parseInfo(reply)


def loadKeys(port: int, count: int, value: bytes = b"xxx",
             batch: int = 1000, window: int = 8) -> float:
    """
    Write C{count} keys C{key:000000}... with C{MSET} batches, pipelined.

    @return: the seconds it took.
    """
    width = keyWidth(count)
    started = time.perf_counter()
    with RespClient(port, timeout=300) as client:
        inFlight = 0
        for start in range(0, count, batch):
            args = ["MSET"]
            for i in range(start, min(start + batch, count)):
                args.append(keyName(i, width))
                args.append(value)
            client.sock.sendall(encodeCommand(*args))
            inFlight += 1
            if inFlight >= window:
                reply = client.readReply()
                inFlight -= 1
                if isinstance(reply, ReplyError):
                    raise reply
        while inFlight:
            reply = client.readReply()
            inFlight -= 1
            if isinstance(reply, ReplyError):
                raise reply
    return time.perf_counter() - started


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

def freePort() -> int:
    """
    A TCP port free on the loopback interface right now.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raiseFileLimit():
    """
    Raise this process's open-file soft limit to its hard limit (also used
    as the servers' C{preexec_fn}).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 65536)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss(pid: int) -> int:
    """
    The resident set size of process C{pid}, in bytes.
    """
    with open("/proc/%d/status" % (pid,)) as f:
        return parseVmRSS(f.read())


#: Every server process started and not yet stopped, killed at exit.
_LIVE = set()


def _killAll():
    for proc in list(_LIVE):
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _LIVE.discard(proc)


class Server:
    """
    How to start one kind of server: a name, and the argv for a port and
    a data directory.

    @ivar name: shown in tables (C{"redis"}, C{"kvtwist CPython"}).
    @ivar kind: C{"redis"} or C{"kvtwist"}.
    @ivar argv: C{argv(port, directory)} -> the command line.
    @ivar version: a description of the server's version.
    """

    def __init__(self, name: str, kind: str,
                 argv: Callable[[int, str], List[str]], version: str):
        self.name = name
        self.kind = kind
        self.argv = argv
        self.version = version


class Running:
    """
    A server process started by L{start}.

    @ivar server: the L{Server} it is.
    @ivar port: its port.
    @ivar directory: its data directory (also its working directory).
    @ivar proc: the L{subprocess.Popen}.
    """

    def __init__(self, server: Server, port: int, directory: str,
                 ownsDirectory: bool):
        self.server = server
        self.port = port
        self.directory = directory
        self.ownsDirectory = ownsDirectory
        self.proc = None  # type: Optional[subprocess.Popen]
        self.logPath = os.path.join(directory, "server.log")

    @property
    def pid(self) -> int:
        """
        The server's process id.
        """
        return self.proc.pid

    def launch(self):
        """
        Start the process (output to C{server.log} in its directory).
        """
        log = open(self.logPath, "ab")
        try:
            self.proc = subprocess.Popen(
                self.server.argv(self.port, self.directory),
                cwd=self.directory, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, preexec_fn=raiseFileLimit)
        finally:
            log.close()
        _LIVE.add(self.proc)

    def logTail(self, lines: int = 20) -> str:
        """
        The last lines the server wrote.
        """
        try:
            with open(self.logPath, "rb") as f:
                data = f.read()[-8192:]
        except OSError:
            return ""
        return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])

    def waitReady(self, timeout: float = 60.0) -> float:
        """
        Wait until the server answers PING.

        @return: the seconds waited.
        @raise RuntimeError: if it exits or doesn't answer in time.
        """
        started = time.perf_counter()
        deadline = started + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s:\n%s" % (
                    self.server.name, self.proc.returncode, self.logTail()))
            try:
                with RespClient(self.port, timeout=5) as client:
                    if client.command("PING") == b"PONG":
                        return time.perf_counter() - started
            except (OSError, ReplyError):
                pass
            if time.perf_counter() > deadline:
                raise RuntimeError("%s did not answer PING in %ss:\n%s" % (
                    self.server.name, timeout, self.logTail()))
            time.sleep(0.01)

    def stop(self, timeout: float = 60.0) -> float:
        """
        SIGTERM the server and wait for it to exit (SIGKILL after
        C{timeout}).

        @return: the seconds it took to exit.
        """
        started = time.perf_counter()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _LIVE.discard(proc)
        return time.perf_counter() - started

    def cleanup(self):
        """
        Stop the server and remove its directory if we made it.
        """
        self.stop()
        if self.ownsDirectory:
            shutil.rmtree(self.directory, ignore_errors=True)


def start(server: Server, directory: Optional[str] = None) -> Running:
    """
    Start C{server} on a free port in C{directory} (a new temporary one
    if not given) and wait until it answers PING.
    """
    owns = directory is None
    if directory is None:
        directory = tempfile.mkdtemp(
            prefix="kvtwist-bench-%s-" % (server.kind,))
    running = Running(server, freePort(), directory, owns)
    try:
        running.launch()
        running.waitReady()
    except BaseException:
        running.cleanup()
        raise
    return running


def redisServer(binary: str = "redis-server") -> Server:
    """
    redis-server with persistence off, on loopback.
    """
    def argv(port, directory):
        return [binary, "--port", str(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", directory,
                "--daemonize", "no", "--logfile", ""]
    return Server("redis", "redis", argv, _redisVersion(binary))


def kvtwistServer(python: str, label: str) -> Server:
    """
    kvtwist with its default options (persistence on), run by C{python}.
    """
    def argv(port, directory):
        return [python, "-c", _TWISTD, "-n", "--pidfile=", "kvstore",
                "--port", "tcp:%d:interface=127.0.0.1" % (port,),
                "--data-dir", directory]
    return Server("kvtwist " + label, "kvtwist", argv,
                  _interpreterVersion(python))


def referenceServer(python: str, label: str, raw: bool = False) -> Server:
    """
    A calibration server (L{kvtwist.benchref}) run by C{python}: the line
    one, or the raw-mode one if C{raw}.
    """
    def argv(port, directory):
        return [python, "-m", "kvtwist.benchref"] + (
            ["--raw"] if raw else []) + [str(port)]
    return Server("%s reference %s" % ("raw" if raw else "line", label),
                  "reference", argv, _interpreterVersion(python))


def _output(argv: List[str]) -> str:
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, check=False,
                              timeout=120).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)


def _redisVersion(binary: str) -> str:
    out = _output([binary, "--version"])
    for word in out.split():
        if word.startswith("v="):
            return "redis-server " + word[2:]
    return out.strip()


def _interpreterVersion(python: str) -> str:
    code = ("import platform, sys\n"
            "try:\n"
            "    from importlib.metadata import version\n"
            "    tw = version('twisted')\n"
            "except Exception:\n"
            "    tw = '?'\n"
            "impl = platform.python_implementation()\n"
            "extra = ''\n"
            "if impl == 'PyPy':\n"
            "    extra = ' (PyPy %d.%d.%d)' % sys.pypy_version_info[:3]\n"
            "try:\n"
            "    import hiredis\n"
            "    hr = ', hiredis ' + version('hiredis')\n"
            "except Exception:\n"
            "    hr = ''\n"
            "print('%s %s%s, Twisted %s%s' % (impl, platform.python_version(),"
            " extra, tw, hr))\n")
    return _output([python, "-c", code]).strip()


def pypyVenvPython(venv: str) -> str:
    """
    The interpreter inside a PyPy virtualenv.
    """
    return os.path.join(venv, "bin", "python")


def ensurePyPyVenv(venv: str, pypy: str = "pypy3", log=print) -> str:
    """
    Make sure C{venv} is a PyPy virtualenv with kvtwist installed (editable,
    in compat mode, so it runs this checkout and twistd finds the plugin in
    the flat C{twisted/plugins} directory); create it if missing.

    @return: the venv's python.
    @raise RuntimeError: if it can't be created or twistd has no kvstore.
    """
    python = pypyVenvPython(venv)
    if not os.path.exists(python):
        log("creating the PyPy virtualenv %s (once)..." % (venv,))
        subprocess.run([pypy, "-m", "venv", venv], check=True)
    ok = _output([python, "-c", "import kvtwist, twisted"]).strip() == ""
    if not ok:
        log("installing kvtwist into %s..." % (venv,))
        # cryptography (twisted[tls]) has no PyPy 3.9 wheel for its newest
        # releases and this machine can't build it: take the newest wheel.
        subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q",
                        "--only-binary", "cryptography", "-e", REPO,
                        "--config-settings", "editable_mode=compat"],
                       check=True)
    out = _output([python, "-c", _TWISTD, "--help"])
    if "kvstore" not in out:
        raise RuntimeError("twistd in %s has no kvstore plugin:\n%s"
                           % (venv, out[-2000:]))
    return python


# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------

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


class _TextClient(asyncio.Protocol):
    """
    One closed-loop text client: C{SET k v}, then C{GET k}, one request in
    flight, until the deadline.
    """

    def __init__(self, index: int, replyLines: Dict[str, int],
                 deadline: float, counts: List[int],
                 done: "asyncio.Future[None]"):
        key = b"text:%d" % (index,)
        self.requests = [(b"SET %s v%d\r\n" % (key, index),
                          replyLines["SET"]),
                         (b"GET %s\r\n" % (key,), replyLines["GET"])]
        self.deadline = deadline
        self.counts = counts
        self.done = done
        self.next = 0
        self.waiting = 0
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._send()

    def _send(self):
        data, self.waiting = self.requests[self.next]
        self.next ^= 1
        self.transport.write(data)

    def data_received(self, data):
        self.waiting -= data.count(b"\n")
        if self.waiting > 0:
            return
        self.counts[0] += 1
        if time.monotonic() < self.deadline:
            self._send()
        else:
            self.transport.close()

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result(None)


async def _textLoad(port: int, first: int, clients: int, deadline: float,
                    replyLines: Dict[str, int]) -> int:
    loop = asyncio.get_running_loop()
    counts = [0]
    dones = []
    for i in range(first, first + clients):
        done = loop.create_future()
        dones.append(done)
        await loop.create_connection(
            lambda i=i, done=done: _TextClient(i, replyLines, deadline,
                                               counts, done),
            "127.0.0.1", port)
    await asyncio.wait_for(asyncio.gather(*dones),
                           deadline - time.monotonic() + 60)
    return counts[0]


def _textWorker(port, first, clients, deadline, replyLines, results):
    try:
        results.put(asyncio.run(_textLoad(port, first, clients, deadline,
                                          replyLines)))
    except BaseException as e:
        results.put(e)


def textLoad(running: Running, clients: int, seconds: float,
             processes: int = 1) -> float:
    """
    A closed-loop load of text-protocol C{SET k v} / C{GET k} lines from
    C{clients} connections, one request in flight each, for C{seconds},
    shared among C{processes} load-generating processes (a Python client
    is slower than Redis: one process would measure itself).

    kvtwist answers each line with one line; Redis (inline protocol)
    answers C{+OK} and a two-line bulk string.

    @return: requests per second.
    """
    import multiprocessing
    if running.server.kind == "redis":
        replyLines = {"SET": 1, "GET": 2}
    else:
        replyLines = {"SET": 1, "GET": 1}
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    started = time.monotonic()
    deadline = started + seconds
    workers = []
    first = 0
    for i in range(processes):
        share = clients // processes + (1 if i < clients % processes else 0)
        worker = context.Process(
            target=_textWorker,
            args=(running.port, first, share, deadline, replyLines, results))
        worker.start()
        workers.append(worker)
        first += share
    total = 0
    try:
        for _ in workers:
            result = results.get(timeout=seconds + 120)
            if isinstance(result, BaseException):
                raise result
            total += result
    finally:
        for worker in workers:
            worker.join(5)
            if worker.is_alive():
                worker.kill()
    return total / (time.monotonic() - started)


class PingProbe(threading.Thread):
    """
    A thread sending PING on one connection, one at a time, recording the
    worst round trip until stopped.
    """

    def __init__(self, port: int):
        threading.Thread.__init__(self, daemon=True)
        self.port = port
        self.stopping = threading.Event()
        self.worst = 0.0
        self.count = 0
        self.error = None  # type: Optional[BaseException]

    def run(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port),
                                          timeout=120) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                ping = encodeCommand("PING")
                while not self.stopping.is_set():
                    began = time.perf_counter()
                    sock.sendall(ping)
                    buf = b""
                    while not buf.endswith(b"\r\n"):
                        data = sock.recv(64)
                        if not data:
                            raise ConnectionError("closed")
                        buf += data
                    took = time.perf_counter() - began
                    self.count += 1
                    if took > self.worst:
                        self.worst = took
        except BaseException as e:
            self.error = e


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
        self.error = None  # type: Optional[BaseException]

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


def warmUp(running: "Running", requests: int = 200000, rounds: int = 10,
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
    last = rss(running.pid)
    for _ in range(rounds):
        redisBenchmark(running.port, "get", 50, requests, keyspace=1000000,
                       pipeline=16)
        now = rss(running.pid)
        if now - last < settled:
            return now
        last = now
    return last


def waitRSSSettled(pid: int, seconds: float = 2.0, limit: float = 10.0,
                   step: float = 0.5, within: int = 1 << 20) -> int:
    """
    Wait C{seconds} (the flush interval passes), then until the RSS moves
    by less than C{within} bytes over C{step} seconds (kvtwist on PyPy
    collects the garbage of a burst once it is quiet: see
    L{kvtwist.idlegc}), at most C{limit} seconds in all; return the RSS.
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


def bigStore(server: Server, args, log) -> Dict[str, Any]:
    """
    Load C{args.keys} small keys into a fresh server, then measure the
    memory per key, the worst PING while BGSAVE runs, and the restart.
    """
    out = {}  # type: Dict[str, Any]
    running = start(server)
    try:
        out["rssWarm"] = warmUp(running)
        before = waitRSSSettled(running.pid, 0.5)
        took = loadKeys(running.port, args.keys)
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
                   probeError=_text(probe.error), benchError=_text(bench.error))
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
                if size >= args.keys or time.perf_counter() - began > 600:
                    break
                time.sleep(0.01)
        out["restartSeconds"] = time.perf_counter() - began
        out["keysAfterRestart"] = size
        log("  %s: stopped in %.2fs, restarted with %d keys in %.2fs"
            % (server.name, out["stopSeconds"], size, out["restartSeconds"]))
    finally:
        running.cleanup()
    return out


def _text(value) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


#: Connections opened at a time by L{idleConnections} before waiting for
#: the server to accept them: below Twisted's default listen backlog (50).
ACCEPT_BATCH = 32


def idleConnections(server: Server, count: int, log) -> Dict[str, Any]:
    """
    Hold C{count} idle connections to a fresh server; check they stay
    connected (PING on a sample, EOF check on all) and measure the memory
    each costs.
    """
    raiseFileLimit()
    running = start(server)
    socks = []  # type: List[socket.socket]
    try:
        warm = warmUp(running)
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
        alive = _countAlive(socks)
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


def _countAlive(socks: List[socket.socket]) -> int:
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


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------

def alternate(servers: List[Server], redis: Server, args, log
              ) -> Dict[str, Any]:
    """
    Alternate redis-benchmark and the text load between each kvtwist and
    Redis, C{args.rounds} times.

    @return: per kvtwist server name: its rounds, its summary rows, and the
        text-load summary.
    """
    results = {}
    for server in servers:
        log("throughput: %s vs redis, %d rounds" % (server.name, args.rounds))
        mine = start(server)
        theirs = start(redis)
        spy = None
        try:
            spy = _startPySpy(args, mine)
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
                for running, key in ((mine, "kvtwist"), (theirs, "redis")):
                    if "throughput" in args.parts:
                        rnd[key] = throughputRound(running, args)
                    if "text" in args.parts and \
                            server.kind != "reference":
                        text[key] = {"TEXT SET/GET": textLoad(
                            running, args.text_clients, args.text_seconds,
                            args.text_processes)}
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
                results[server.name]["profile"] = _stopPySpy(*spy)
        finally:
            if spy is not None and spy[0].poll() is None:
                spy[0].kill()
            theirs.cleanup()
            mine.cleanup()
    return results


def _startPySpy(args, running: Running):
    """
    Start C{py-spy record} on a CPython kvtwist if C{--py-spy DIR} was
    given (py-spy doesn't read PyPy's stacks).
    """
    if not args.py_spy or "CPython" not in running.server.version:
        return None
    binary = shutil.which("py-spy") or os.path.join(
        os.path.dirname(sys.executable), "py-spy")
    os.makedirs(args.py_spy, exist_ok=True)
    path = os.path.join(args.py_spy, "%s.txt" % (
        running.server.name.replace(" ", "-"),))
    proc = subprocess.Popen(
        [binary, "record", "--format", "raw", "--rate", "200", "--output",
         path, "--pid", str(running.pid)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    return proc, path


def _stopPySpy(proc: subprocess.Popen, path: str) -> Dict[str, Any]:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
    try:
        with open(path) as f:
            top = topFrames(f.read())
    except OSError:
        top = []
    return {"path": path, "top": top}


def rowLabel(name: str) -> str:
    """
    A row name for people: C{"SET P16"} -> C{"SET -P 16"}.
    """
    test, _, depth = name.rpartition(" P")
    if test and depth.isdigit():
        return "%s -P %s" % (test, depth)
    return name


def throughputTable(results: Dict[str, Any]) -> str:
    """
    The requests-per-second table of L{alternate}'s results.
    """
    rows = []
    for name, result in results.items():
        for row in result["summary"] + result["textSummary"]:
            label = rowLabel(row["name"])
            rows.append([name, label, row["kvtwist"], row["redis"],
                         row["ratio"],
                         " ".join("-" if r is None else "%.2f" % r
                                  for r in row["ratios"])])
    return formatTable(["kvtwist on", "test", "kvtwist rps", "redis rps",
                        "ratio", "per round"], rows)


def figuresTable(big: Dict[str, Any], idle: Dict[str, Any]) -> str:
    """
    The big-store and idle-connection figures, one column per server.
    """
    names = list(big) or list(idle)
    for name in idle:
        if name not in names:
            names.append(name)

    def get(table, name, field):
        return table.get(name, {}).get(field)

    redisKey = get(big, "redis", "bytesPerKey")
    rows = [
        ["RSS of the empty server, warmed up (MB)", "rssWarm"],
        ["keys loaded", "keys"],
        ["load time (s)", "loadSeconds"],
        ["memory per key (bytes)", "bytesPerKey"],
        ["  ratio to redis", None],
        ["BGSAVE duration (s)", "bgsaveSeconds"],
        ["worst PING in BGSAVE, probe (ms)", "pingWorstMs"],
        ["worst PING in BGSAVE, redis-benchmark (ms)",
         "benchmarkPingWorstMs"],
        ["stop, SIGTERM to exit (s)", "stopSeconds"],
        ["restart until PING (s)", "pingAfterRestartSeconds"],
        ["restart until all keys (s)", "restartSeconds"],
        ["idle connections held", "alive"],
        ["sample PINGs answered", "sampleAnswered"],
        ["memory per connection (bytes)", "bytesPerConnection"],
    ]
    out = []
    for label, field in rows:
        line = [label]
        for name in names:
            if field is None:
                line.append(ratio(get(big, name, "bytesPerKey"), redisKey))
            elif field in ("alive", "sampleAnswered"):
                value = get(idle, name, field)
                total = get(idle, name,
                            "requested" if field == "alive" else "sampled")
                line.append(None if value is None
                            else "%d/%d" % (value, total))
            elif field == "bytesPerConnection":
                line.append(get(idle, name, field))
            elif field == "rssWarm":
                value = get(big, name, field)
                line.append(None if value is None else value / 1e6)
            else:
                line.append(get(big, name, field))
        out.append(line)
    return formatTable(["figure"] + names, out)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m kvtwist.bench",
        description="Benchmark kvtwist beside redis-server on this machine.")
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
    p.add_argument("--parts", default="throughput,text,bigstore,idle",
                   help="comma-separated parts to run (default all: "
                        "throughput,text,bigstore,idle)")
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
                   help="skip the calibration servers (kvtwist.benchref: "
                        "minimal Twisted SET/GET servers, line by line and "
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
                            ("text_seconds", 1.0)):
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
        _killAll()


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
        references = [referenceServer(s.argv(0, "")[0],
                                      s.name.split(" ", 1)[1], raw)
                      for s in servers for raw in (False, True)]
    machine = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "kernel": platform.release(),
        "redis": redis.version,
        "redis-benchmark": _output(["redis-benchmark", "--version"]).strip(),
        "kvtwist": {s.name: s.version for s in servers},
        "bench": _interpreterVersion(sys.executable),
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
    for server in [redis] + servers:
        if "bigstore" in args.parts:
            log("big store: %s, %d keys" % (server.name, args.keys))
            big[server.name] = bigStore(server, args, log)
        if "idle" in args.parts:
            log("idle connections: %s, %d" % (server.name, args.connections))
            idle[server.name] = idleConnections(server, args.connections,
                                                log)

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
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "settings": settings,
                       "throughput": throughput, "bigStore": big,
                       "idle": idle}, f, indent=2, default=str)
        log("results written to %s" % (args.json,))
    return 0


if __name__ == "__main__":
    sys.exit(main())
