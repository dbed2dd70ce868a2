# -*- test-case-name: benchmarks.test.test_servers -*-
"""
Starting, finding and stopping the servers the benchmark measures:
C{redis-server}, kvtwist (C{twistd -n kvstore}, by the interpreter under
test) and the calibration servers of L{benchmarks.reference}.

kvtwist and the calibration servers listen on port 0 (a port the kernel
picks, so runs beside other work can't collide) and the port is read back
from their log line C{... listening on 127.0.0.1:PORT}.  C{redis-server}
takes port 0 to mean "no TCP": it gets a port found free just before, and
another one if that was taken meanwhile.
"""

import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Callable, Dict, List, Optional

from benchmarks.resp import ReplyError, RespClient

#: Where C{--pypy} keeps its virtualenv unless told otherwise.
DEFAULT_PYPY_VENV = os.path.join(tempfile.gettempdir(), "kvtwist-pypy-venv")

#: The checkout this package runs from (installed into the PyPy
#: virtualenv).
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: How kvtwist is started: twistd's entry point run by a given interpreter,
#: so that the process we start is the server (no wrapper script).
TWISTD = "import sys; from twisted.scripts.twistd import run; run()"

#: The log line of a server listening on port 0: the port it got.
LISTENING = re.compile(rb"listening on 127\.0\.0\.1:(\d+)")


def freePort() -> int:
    """
    A TCP port free on the loopback interface right now (for
    C{redis-server}, which can't be given port 0).
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


#: Every server process started and not yet stopped, killed at exit.
_LIVE: "set[subprocess.Popen]" = set()


def killAll():
    """
    Kill every server process still running (the benchmark's exit).
    """
    for proc in list(_LIVE):
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _LIVE.discard(proc)


class Server:
    """
    How to start one kind of server.

    @ivar name: shown in tables (C{"redis"}, C{"kvtwist CPython"}).
    @ivar kind: C{"redis"}, C{"kvtwist"} or C{"reference"}.
    @ivar argv: C{argv(port, directory)} -> the command line; C{port} is 0
        for a server that L{announces} its port.
    @ivar version: a description of the server's version.
    @ivar python: the interpreter running it, or L{None}.
    @ivar announces: whether it logs C{listening on 127.0.0.1:PORT}, and so
        may be given port 0.
    @ivar env: environment variables to set for it.
    """

    def __init__(self, name: str, kind: str,
                 argv: Callable[[int, str], List[str]], version: str,
                 python: Optional[str] = None, announces: bool = True):
        self.name = name
        self.kind = kind
        self.argv = argv
        self.version = version
        self.python = python
        self.announces = announces
        self.env: Dict[str, str] = {}


class Running:
    """
    A server process started by L{start}.

    @ivar server: the L{Server} it is.
    @ivar port: its port (known once L{waitReady} returned).
    @ivar directory: its data directory (also its working directory).
    @ivar proc: the L{subprocess.Popen}.
    """

    def __init__(self, server: Server, directory: str, ownsDirectory: bool):
        self.server = server
        self.port = 0
        self.directory = directory
        self.ownsDirectory = ownsDirectory
        self.proc: Optional[subprocess.Popen] = None
        self.logPath = os.path.join(directory, "server.log")
        self._logStart = 0

    @property
    def pid(self) -> int:
        """
        The server's process id.
        """
        return self.proc.pid

    def launch(self):
        """
        Start the process (output to C{server.log} in its directory): on
        port 0 if it announces its port, else on a port free now.
        """
        self.port = 0 if self.server.announces else freePort()
        env = dict(os.environ)
        env.update(self.server.env)
        log = open(self.logPath, "ab")
        try:
            self._logStart = log.tell()
            self.proc = subprocess.Popen(
                self.server.argv(self.port, self.directory),
                cwd=self.directory, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, preexec_fn=raiseFileLimit,
                env=env)
        finally:
            log.close()
        _LIVE.add(self.proc)

    def logSinceLaunch(self) -> bytes:
        """
        What the server wrote since its last L{launch}.
        """
        try:
            with open(self.logPath, "rb") as f:
                f.seek(self._logStart)
                return f.read()
        except OSError:
            return b""

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

    def _exited(self):
        raise RuntimeError("%s exited with %s:\n%s" % (
            self.server.name, self.proc.returncode, self.logTail()))

    def waitReady(self, timeout: float = 60.0) -> float:
        """
        Wait until the server says which port it got (if it was given
        port 0) and then answers PING.

        @return: the seconds waited.
        @raise RuntimeError: if it exits or doesn't answer in time.
        """
        started = time.perf_counter()
        deadline = started + timeout
        while not self.port:
            if self.proc.poll() is not None:
                self._exited()
            found = LISTENING.search(self.logSinceLaunch())
            if found:
                self.port = int(found.group(1))
                break
            if time.perf_counter() > deadline:
                raise RuntimeError("%s did not log its port in %ss:\n%s" % (
                    self.server.name, timeout, self.logTail()))
            time.sleep(0.01)
        while True:
            if self.proc.poll() is not None:
                self._exited()
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


def start(server: Server, directory: Optional[str] = None,
          attempts: int = 3) -> Running:
    """
    Start C{server} in C{directory} (a new temporary one if not given) and
    wait until it answers PING.  A server given a port found free (not port
    0) is tried again on another one if that one was taken meanwhile.
    """
    owns = directory is None
    if directory is None:
        directory = tempfile.mkdtemp(
            prefix="kvtwist-bench-%s-" % (server.kind,))
    running = Running(server, directory, owns)
    for attempt in range(attempts):
        try:
            running.launch()
            running.waitReady()
            return running
        except RuntimeError:
            retry = (not server.announces and attempt + 1 < attempts
                     and b"in use" in running.logSinceLaunch())
            if not retry:
                running.cleanup()
                raise
            running.stop()
        except BaseException:
            running.cleanup()
            raise
    raise AssertionError("not reached")


def redisServer(binary: str = "redis-server") -> Server:
    """
    redis-server with persistence off, on loopback.
    """
    def argv(port, directory):
        return [binary, "--port", str(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", directory,
                "--daemonize", "no", "--logfile", ""]
    return Server("redis", "redis", argv, redisVersion(binary),
                  announces=False)


def kvtwistServer(python: str, label: str) -> Server:
    """
    kvtwist with its default options (persistence on), run by C{python}.
    """
    def argv(port, directory):
        return [python, "-c", TWISTD, "-n", "--pidfile=", "kvstore",
                "--port", "tcp:%d:interface=127.0.0.1" % (port,),
                "--data-dir", directory]
    return Server("kvtwist " + label, "kvtwist", argv,
                  interpreterVersion(python), python)


def referenceServer(python: str, label: str, raw: bool = False) -> Server:
    """
    A calibration server (L{benchmarks.reference}) run by C{python} from
    this checkout: the line one, or the raw-mode one if C{raw}.
    """
    def argv(port, directory):
        return [python, "-m", "benchmarks.reference"] + (
            ["--raw"] if raw else []) + [str(port)]
    server = Server("%s reference %s" % ("raw" if raw else "line", label),
                    "reference", argv, interpreterVersion(python), python)
    server.env["PYTHONPATH"] = REPO
    return server


def output(argv: List[str]) -> str:
    """
    What C{argv} prints (stdout and stderr), or why it couldn't run.
    """
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, check=False,
                              timeout=120).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)


def redisVersion(binary: str) -> str:
    """
    C{redis-server X.Y.Z}, from C{binary --version}.
    """
    out = output([binary, "--version"])
    for word in out.split():
        if word.startswith("v="):
            return "redis-server " + word[2:]
    return out.strip()


_VERSIONS = """\
import platform, sys
try:
    from importlib.metadata import version
    tw = version('twisted')
except Exception:
    tw = '?'
impl = platform.python_implementation()
extra = ''
if impl == 'PyPy':
    extra = ' (PyPy %d.%d.%d)' % sys.pypy_version_info[:3]
try:
    import hiredis
    hr = ', hiredis ' + version('hiredis')
except Exception:
    hr = ''
print('%s %s%s, Twisted %s%s' % (impl, platform.python_version(), extra,
                                 tw, hr))
"""


def interpreterVersion(python: str) -> str:
    """
    The interpreter's, Twisted's and hiredis's versions, as C{python}
    reports them.
    """
    return output([python, "-c", _VERSIONS]).strip()


def pypyVenvPython(venv: str) -> str:
    """
    The interpreter inside a PyPy virtualenv (an absolute path: the
    servers run in directories of their own).
    """
    return os.path.join(os.path.abspath(venv), "bin", "python")


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
    ok = output([python, "-c", "import kvtwist, twisted"]).strip() == ""
    if not ok:
        log("installing kvtwist into %s..." % (venv,))
        # cryptography (twisted[tls]) has no PyPy 3.9 wheel for its newest
        # releases and this machine can't build it: take the newest wheel.
        subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q",
                        "--only-binary", "cryptography", "-e", REPO,
                        "--config-settings", "editable_mode=compat"],
                       check=True)
    out = output([python, "-c", TWISTD, "--help"])
    if "kvstore" not in out:
        raise RuntimeError("twistd in %s has no kvstore plugin:\n%s"
                           % (venv, out[-2000:]))
    return python
