"""
The end-to-end harness: run the real C{twistd -n kvstore} as a subprocess on
a loopback port, and talk to it with plain blocking sockets.

Servers listen on port 0: the kernel picks a free port and the harness
reads it back from the server's log line C{Server listening on
127.0.0.1:PORT}, so that test runs beside each other (or beside anything
else on the machine) never race for a port.

L{KVServer} is usable from any test module::

    server = KVServer(tmp_path)
    server.start(["--fsync", "always"])
    with server.textClient() as c:
        assert c.command("GET k") == "Key 'k' not found."
    server.stop(signal.SIGTERM)

The fixtures in C{conftest.py} wrap it and clean up after each test.

Nothing here sleeps: waiting is done with bounded loops whose pauses are
socket timeouts or C{Popen.wait} timeouts, which also notice a server that
died.
"""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from kvtwist import nursery
from kvtwist.dialects.resp import encodeCommand
from kvtwist.dialects.text import ERROR_LINE

#: How long a server may take to start listening or to exit, in seconds.
START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0
#: Socket timeout for clients: a reply that takes longer is a failure.
IO_TIMEOUT = 10.0

HOST = "127.0.0.1"

#: A listener's log line: its label ("Server", "Web interface"), host and
#: port.
LISTENING = re.compile(r"(\w[\w ]*) listening on ([^\s]+):(\d+)")


def listeningAddresses(log: str, label: str = "Server"
                       ) -> List[Tuple[str, int]]:
    """
    The C{(host, port)} of every C{label} listener the log text says is
    listening, in the order they started (C{--port} first, then each
    C{--listen}).
    """
    return [(m.group(2), int(m.group(3))) for m in LISTENING.finditer(log)
            if m.group(1).endswith(label)]


@contextlib.contextmanager
def closedPort(host: str = HOST) -> Iterator[int]:
    """
    A port on C{host} where nothing listens, and nothing will while the
    context lasts: it is bound (port 0: the kernel's choice) but not
    listening, so connecting to it is refused.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        yield s.getsockname()[1]


def parseInfo(text: str) -> Dict[str, str]:
    """
    The C{field:value} lines of an C{INFO} reply (section titles and blank
    lines skipped).
    """
    fields = {}
    for line in text.splitlines():
        name, colon, value = line.strip().partition(":")
        if colon and not name.startswith("#"):
            fields[name] = value
    return fields


class ServerError(Exception):
    """
    The server did not start or stop as expected.  The message carries the
    tail of its log and stderr.
    """


def _scriptCommand(name: str, fallback: str) -> List[str]:
    """
    The argv prefix that runs the console script C{name} with this
    interpreter: the script next to C{sys.executable} (a venv's C{bin/}),
    else C{fallback}, Python code that runs its entry point, run by
    C{sys.executable} itself.
    """
    bindir = os.path.dirname(os.path.abspath(sys.executable))
    script = os.path.join(bindir, name)
    if os.path.exists(script):
        return [script]
    return [sys.executable, "-c", fallback]


def twistdCommand() -> List[str]:
    """
    The argv prefix that runs C{twistd} with this interpreter.
    """
    return _scriptCommand(
        "twistd", "import sys; from twisted.scripts.twistd import run; "
                  "sys.argv[0] = 'twistd'; run()")


def cliCommand() -> List[str]:
    """
    The argv prefix that runs C{kvtwist-cli} with this interpreter.
    """
    return _scriptCommand(
        "kvtwist-cli", "import sys; from kvtwist.cli import main; "
                       "sys.argv[0] = 'kvtwist-cli'; sys.exit(main())")


def waitFor(predicate, timeout: float = IO_TIMEOUT, interval: float = 0.02,
            what: str = "condition"):
    """
    Call C{predicate} until it returns something true, and return that.
    Between tries it waits on a socket timeout (C{select} on nothing).

    @raise AssertionError: if C{timeout} seconds pass first.
    """
    import select
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        select.select([], [], [], interval)


class LineClient:
    """
    A blocking text-protocol client (what a person on telnet or nc sends).
    """

    def __init__(self, port: int, host: str = HOST,
                 timeout: float = IO_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """
        Close the connection.
        """
        self.sock.close()

    def send(self, data):
        """
        Send raw bytes (or text, UTF-8 encoded).
        """
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def sendLine(self, line, end: bytes = b"\r\n"):
        """
        Send one line with its line end.
        """
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + end)

    def _fill(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection; unread: %r"
                                  % (self._buf,))
        self._buf += chunk
        return chunk

    def readLineBytes(self) -> bytes:
        """
        Read one line, without its C{\\r\\n} or C{\\n}.

        @raise ConnectionError: if the server closes first.
        @raise socket.timeout: if nothing comes in time.
        """
        while b"\n" not in self._buf:
            self._fill()
        line, self._buf = self._buf.split(b"\n", 1)
        return line[:-1] if line.endswith(b"\r") else line

    def readLine(self) -> str:
        """
        Read one line as text.
        """
        return self.readLineBytes().decode("utf-8")

    def readExactly(self, n: int) -> bytes:
        """
        Read exactly C{n} bytes.
        """
        while len(self._buf) < n:
            self._fill()
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def readBlock(self) -> List[str]:
        """
        Read a block reply: lines up to a lone C{.}, with one leading dot
        removed from dot-stuffed lines (the framing of
        L{kvtwist.dialects.text}), or a single error line.
        """
        lines = []
        while True:
            line = self.readLine()
            if line == ".":
                return lines
            if not lines and ERROR_LINE.match(line.encode("utf-8")):
                # An error instead of the block.
                return [line]
            if line.startswith("."):
                line = line[1:]
            lines.append(line)

    def command(self, line) -> str:
        """
        Send a line and read a one-line reply.
        """
        self.sendLine(line)
        return self.readLine()

    def blockCommand(self, line) -> List[str]:
        """
        Send a line and read a block reply.
        """
        self.sendLine(line)
        return self.readBlock()

    def readUntilClosed(self) -> bytes:
        """
        Read until the server closes the connection (bounded by the socket
        timeout) and return what came, including anything buffered.

        @raise socket.timeout: if the server keeps the connection open.
        """
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                data, self._buf = self._buf, b""
                return data
            self._buf += chunk


class KVServer:
    """
    One real C{twistd -n kvstore} process, on a port of 127.0.0.1 the
    kernel picks at each start, with its data directory, log file and pid
    file in C{workdir}.

    @ivar port: the TCP port of the current (or last) start: each start
        gets a new one; L{None} before the first.
    @ivar dataDir: the C{--data-dir}.
    @ivar logPath: the twistd log file (appended to across restarts).
    @ivar process: the current L{subprocess.Popen}, or L{None}.
    @ivar extraArgs: the extra C{kvstore} options of the last start.
    @ivar twistdArgs: extra C{twistd} options (before C{kvstore}).
    @ivar env: environment variables to set for twistd (C{None} values
        unset them).
    """

    def __init__(self, workdir, dataDir=None):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.dataDir = str(dataDir) if dataDir is not None else \
            os.path.join(self.workdir, "data")
        self.port: Optional[int] = None
        self.logPath = os.path.join(self.workdir, "twistd.log")
        self.pidPath = os.path.join(self.workdir, "twistd.pid")
        self.stderrPath = os.path.join(self.workdir, "twistd.stderr")
        self.process = None
        self.extraArgs: List[str] = []
        self.twistdArgs: List[str] = []
        self.env: Dict[str, Optional[str]] = {}
        self._logStart = 0

    # -- lifecycle ------------------------------------------------------------

    def argv(self, extraArgs: Sequence[str] = ()) -> List[str]:
        """
        The full command line that runs this server.
        """
        return twistdCommand() + [
            "-n", "--logfile", self.logPath, "--pidfile", self.pidPath,
        ] + self.twistdArgs + [
            "kvstore",
            "--port", "tcp:0:interface=%s" % (HOST,),
            "--data-dir", self.dataDir,
        ] + list(extraArgs)

    def start(self, extraArgs: Sequence[str] = (),
              timeout: float = START_TIMEOUT) -> "KVServer":
        """
        Start twistd and wait until it logs the port it listens on
        (logged once the port is bound, so connections are accepted): that
        is L{port} from now on.

        @raise ServerError: if it exits or does not listen within
            C{timeout} seconds.
        """
        if self.running:
            raise ServerError("server already running (pid %d)"
                              % (self.process.pid,))
        self.extraArgs = list(extraArgs)
        self._logStart = os.path.getsize(self.logPath) \
            if os.path.exists(self.logPath) else 0
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        # The nursery twistd kvstore would run itself again with on PyPy
        # (see kvtwist.nursery), given at once: that restart costs almost a
        # second per start.  tests/test_nursery_e2e.py takes it out.
        env.setdefault(nursery.ENV, nursery.CHOSEN)
        for name, value in self.env.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        with open(self.stderrPath, "ab") as err:
            self.process = subprocess.Popen(
                self.argv(extraArgs), cwd=self.workdir, env=env,
                stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        self.waitListening(timeout)
        return self

    def waitListening(self, timeout: float = START_TIMEOUT):
        """
        Wait until the server logged C{Server listening on 127.0.0.1:PORT}
        since its last start, and set L{port}.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = self.listening()
            if found:
                self.port = found[0][1]
                return
            try:
                code = self.process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
            else:
                raise ServerError("twistd exited with %s before listening:"
                                  "\n%s" % (code, self.diagnostics()))
            if time.monotonic() > deadline:
                self.kill9()
                raise ServerError("twistd did not listen within %.0fs:\n%s"
                                  % (timeout, self.diagnostics()))

    def stop(self, sig: int = signal.SIGTERM,
             timeout: float = STOP_TIMEOUT) -> int:
        """
        Send C{sig} and wait for the process to exit.

        @return: its exit code (C{Popen.returncode}: negative for a death
            by signal; twistd re-raises the signal it stopped on, so a clean
            stop on SIGTERM is C{0} or C{-15}).
        @raise ServerError: if it is still running after C{timeout}
            seconds (it is then killed).
        """
        process = self.process
        if process is None:
            raise ServerError("server not started")
        if process.poll() is None:
            process.send_signal(sig)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
            raise ServerError("twistd did not exit within %.0fs of signal %d:"
                              "\n%s" % (timeout, sig, self.diagnostics()))

    def kill9(self) -> int:
        """
        Kill the process with SIGKILL (no chance to flush) and reap it.
        """
        return self.stop(signal.SIGKILL)

    def restart(self, extraArgs: Optional[Sequence[str]] = None,
                sig: int = signal.SIGTERM) -> "KVServer":
        """
        Stop (if running) with C{sig} and start again on the same data
        directory (on a new port), with the same extra options unless new
        ones are given.
        """
        if self.running:
            self.stop(sig)
        return self.start(self.extraArgs if extraArgs is None else extraArgs)

    @property
    def running(self) -> bool:
        """
        Whether the process is alive.
        """
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        """
        The process id.
        """
        return self.process.pid

    def cleanup(self):
        """
        Kill the process if it is still running (test teardown).
        """
        if self.running:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)

    # -- logs ---------------------------------------------------------------

    def listening(self, label: str = "Server") -> List[Tuple[str, int]]:
        """
        The C{(host, port)} of each C{label} listener logged since the last
        start, in the order they started: C{--port} first, then each
        C{--listen} (L{listeningAddresses}).
        """
        return listeningAddresses(self.logSinceStart(), label)

    @property
    def log(self) -> str:
        """
        The whole twistd log text (every start of this server).
        """
        try:
            with open(self.logPath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def logSinceStart(self) -> str:
        """
        The log text written since the last L{start}.
        """
        try:
            with open(self.logPath, "rb") as f:
                f.seek(self._logStart)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    @property
    def stderr(self) -> str:
        """
        What twistd wrote to stdout and stderr (usage errors land here).
        """
        try:
            with open(self.stderrPath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def diagnostics(self, tail: int = 60) -> str:
        """
        The tail of the log and stderr, for failure messages.
        """
        lines = self.log.splitlines()[-tail:]
        return ("--- twistd log (%s) ---\n%s\n--- stderr ---\n%s"
                % (self.logPath, "\n".join(lines), self.stderr[-4000:]))

    # -- clients ------------------------------------------------------------

    def connect(self, timeout: float = IO_TIMEOUT) -> socket.socket:
        """
        A raw connected socket.
        """
        return socket.create_connection((HOST, self.port), timeout=timeout)

    def textClient(self, timeout: float = IO_TIMEOUT) -> LineClient:
        """
        A L{LineClient} connected to this server.
        """
        return LineClient(self.port, timeout=timeout)

    def redis(self, **kwargs):
        """
        A C{redis.Redis} client for this server (C{protocol=2} or the
        library's default, RESP3, as C{kwargs} say).
        """
        import redis
        kwargs.setdefault("socket_timeout", IO_TIMEOUT)
        return redis.Redis(host=HOST, port=self.port, **kwargs)

    def info(self) -> Dict[str, str]:
        """
        The fields of C{INFO}, over a fresh RESP2 connection.
        """
        return parseInfo(self.rawCommand(b"INFO").decode("utf-8"))

    def rawCommand(self, *args) -> bytes:
        """
        Send one RESP command on a fresh connection and return the payload
        of its bulk or status reply (an error raises L{AssertionError}).
        """
        with LineClient(self.port) as c:
            c.send(encodeCommand(*args))
            head = c.readLineBytes()
            if head.startswith(b"$"):
                n = int(head[1:])
                return c.readExactly(n + 2)[:-2] if n >= 0 else b""
            if head[:1] in (b"+", b":"):
                return head[1:]
            raise AssertionError("unexpected reply to %r: %r" % (args, head))


_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|Unhandled")


def logErrors(text: str) -> List[str]:
    """
    The log lines that show a traceback or an unhandled error.
    """
    return [line for line in text.splitlines() if _TRACEBACK.search(line)]
