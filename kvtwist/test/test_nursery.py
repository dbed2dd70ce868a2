"""
Tests for L{kvtwist.nursery}.
"""

import os
import sys

from twisted.logger import Logger, LogLevel, capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from kvtwist import nursery

MB = 1024 * 1024
CMDLINE = b"/venv/bin/pypy3\0/venv/bin/twistd\0-n\0kvstore\0--port\0 3490\0"


class ParseSizeTests(SynchronousTestCase):
    """
    L{nursery.parseSize}.
    """

    def test_pypyFormats(self):
        """
        The sizes PyPy's C{gc.get_stats()} prints, and those
        C{PYPY_GC_NURSERY} takes, are read in bytes.
        """
        self.assertEqual(nursery.parseSize("240.0MB"), 240 * MB)
        self.assertEqual(nursery.parseSize("512.0kB"), 512 * 1024)
        self.assertEqual(nursery.parseSize("1.5GB"), 1536 * MB)
        self.assertEqual(nursery.parseSize("32M"), 32 * MB)
        self.assertEqual(nursery.parseSize("8k"), 8 * 1024)
        self.assertEqual(nursery.parseSize("4096"), 4096)
        self.assertEqual(nursery.parseSize(nursery.CHOSEN), 32 * MB)

    def test_unreadable(self):
        """
        Anything else is L{None}, not an exception.
        """
        for text in ("", "MB", "lots", "-3MB", "1.0TB"):
            self.assertIsNone(nursery.parseSize(text), text)


class RestartArgsTests(SynchronousTestCase):
    """
    L{nursery.restartArgs}: whether, and with what, to run again.
    """

    def test_oversized(self):
        """
        An oversized nursery and no C{PYPY_GC_NURSERY}: the same command
        line again, argument for argument (an argument with a space
        included).
        """
        for size in (240 * MB, nursery.LARGEST + 1):
            self.assertEqual(
                nursery.restartArgs({}, size, CMDLINE),
                [b"/venv/bin/pypy3", b"/venv/bin/twistd", b"-n", b"kvstore",
                 b"--port", b" 3490"], size)

    def test_undersized(self):
        """
        An undersized nursery (a VM reporting only a core's L2 cache) is
        run again just the same.
        """
        for size in (1 * MB, nursery.SMALLEST - 1):
            self.assertEqual(
                nursery.restartArgs({}, size, CMDLINE),
                [b"/venv/bin/pypy3", b"/venv/bin/twistd", b"-n",
                 b"kvstore", b"--port", b" 3490"], size)

    def test_goOn(self):
        """
        No restart when the variable is set (to anything), the nursery is
        from L{nursery.SMALLEST} to L{nursery.LARGEST} or unknown (not
        PyPy), or the command line can't be read.
        """
        cases = [
            ({nursery.ENV: "300MB"}, 240 * MB, CMDLINE),
            ({nursery.ENV: "1MB"}, 1 * MB, CMDLINE),
            ({}, nursery.LARGEST, CMDLINE),
            ({}, nursery.SMALLEST, CMDLINE),
            ({}, 32 * MB, CMDLINE),
            ({}, None, CMDLINE),
            ({}, 240 * MB, None),
            ({}, 240 * MB, b""),
        ]
        for env, size, cmdline in cases:
            self.assertIsNone(nursery.restartArgs(env, size, cmdline),
                              (env, size, cmdline))


class RestartTests(SynchronousTestCase):
    """
    L{nursery.restartIfMissized} and L{nursery.logRestart}.
    """

    def setUp(self):
        self.calls = []
        self.patch(nursery, "_cmdline", lambda: CMDLINE)
        environ = {k: v for k, v in os.environ.items()
                   if k not in (nursery.ENV, nursery.MARKER)}
        self.patch(os, "environ", environ)

    def execve(self, path, args, env):
        """
        Record an C{os.execve} call.
        """
        self.calls.append((path, args, env))

    def failingExecve(self, path, args, env):
        """
        An C{os.execve} that fails.
        """
        raise FileNotFoundError(2, "No such file or directory")

    def test_restarts(self):
        """
        An oversized nursery: C{exec} of the interpreter with the same
        arguments, the chosen size and the size PyPy had picked.
        """
        self.patch(nursery, "nurserySize", lambda: 240 * MB)
        nursery.restartIfMissized(Logger(), self.execve, modules={})
        [(path, args, env)] = self.calls
        self.assertEqual(path, sys.executable)
        self.assertEqual(args, [b"/venv/bin/pypy3", b"/venv/bin/twistd",
                                b"-n", b"kvstore", b"--port", b" 3490"])
        self.assertEqual(env[nursery.ENV], nursery.CHOSEN)
        self.assertEqual(env[nursery.MARKER], str(240 * MB))
        self.assertNotIn(nursery.ENV, os.environ)

    def test_restartsUndersized(self):
        """
        An undersized nursery is run again with the chosen size too.
        """
        self.patch(nursery, "nurserySize", lambda: 1 * MB)
        nursery.restartIfMissized(Logger(), self.execve, modules={})
        [(path, args, env)] = self.calls
        self.assertEqual(env[nursery.ENV], nursery.CHOSEN)
        self.assertEqual(env[nursery.MARKER], str(1 * MB))

    def test_noRestart(self):
        """
        A fitting nursery, or none, runs nothing.
        """
        for size in (None, 16 * MB, 48 * MB):
            self.patch(nursery, "nurserySize", lambda: size)
            nursery.restartIfMissized(Logger(), self.execve, modules={})
        self.assertEqual(self.calls, [])

    def test_failedRestartGoesOn(self):
        """
        If the C{exec} fails the process goes on as it is, and says so.
        """
        self.patch(nursery, "nurserySize", lambda: 240 * MB)
        with capturedLogs() as events:
            nursery.restartIfMissized(Logger(), self.failingExecve,
                                      modules={})
        [event] = events
        self.assertEqual(event["log_level"], LogLevel.warn)
        self.assertEqual(event["size"], 240)
        self.assertNotIn(nursery.ENV, os.environ)

    def test_notOnceTheReactorRuns(self):
        """
        A process whose reactor runs is not run again, whatever its
        nursery; one whose reactor is installed but not running yet
        (C{twistd --reactor}) is.
        """
        self.patch(nursery, "nurserySize", lambda: 240 * MB)

        class Reactor:
            running = True
        nursery.restartIfMissized(
            Logger(), self.execve,
            modules={"twisted.internet.reactor": Reactor()})
        self.assertEqual(self.calls, [])
        Reactor.running = False
        nursery.restartIfMissized(
            Logger(), self.execve,
            modules={"twisted.internet.reactor": Reactor()})
        self.assertEqual(len(self.calls), 1)

    def test_logRestart(self):
        """
        The process run again says once what PyPy had chosen, and takes
        the variables it was given back out of its environment.
        """
        env = {nursery.MARKER: str(240 * MB), nursery.ENV: "32MB"}
        log = Logger()
        with capturedLogs() as events:
            nursery.logRestart(log, env)
            nursery.logRestart(log, env)
        [event] = events
        self.assertEqual(event["log_level"], LogLevel.info)
        self.assertEqual(event["was"], 240)
        self.assertEqual(env, {})

    def test_logRestartBadMarker(self):
        """
        A marker that isn't a number logs nothing and raises nothing.
        """
        env = {nursery.MARKER: "lots", nursery.ENV: "32MB"}
        with capturedLogs() as events:
            nursery.logRestart(Logger(), env)
        self.assertEqual((events, env), ([], {}))


class NurserySizeTests(SynchronousTestCase):
    """
    L{nursery.nurserySize} on this interpreter.
    """

    def test_thisInterpreter(self):
        """
        On PyPy, the nursery in bytes; elsewhere L{None}.
        """
        import platform
        size = nursery.nurserySize()
        if platform.python_implementation() == "PyPy":
            self.assertIsInstance(size, int)
            self.assertGreater(size, 0)
        else:
            self.assertIsNone(size)
