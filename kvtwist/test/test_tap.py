"""
Tests for L{kvtwist.tap}: the twistd kvstore options, the process-wide
choices made once they are read, and the service tree.
"""

import io
import os
import sys

from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase

from kvtwist import __version__, tap
from kvtwist.listening import ListenError
from kvtwist.services import ListenerService, StartupError
from kvtwist.tap import Options, TwistdOptions


class OptionsTests(TestCase):
    """
    Parsing of C{twistd kvstore} options.
    """

    def parse(self, *argv, options=Options):
        """
        Parse C{argv} with a fresh data dir unless one is given.
        """
        parsed = options()
        if "--data-dir" not in argv:
            argv = argv + ("--data-dir", self.mktemp())
        parsed.parseOptions(list(argv))
        return parsed

    def test_defaults(self):
        """
        Port 3490 on every interface, interval fsync every second.
        """
        options = self.parse()
        self.assertEqual(options["endpoints"], ["tcp:3490:backlog=511"])
        self.assertEqual(options["fsync"], "interval")
        self.assertEqual(options["flush-interval"], 1.0)
        self.assertEqual(options["max-clients"], 10000)
        self.assertIsNone(options["password"])
        self.assertIsNone(options["web-endpoint"])

    def test_portForms(self):
        """
        A bare number listens on all interfaces; an endpoint string is
        kept; --listen adds more listeners, each remembered with the
        option that asked for it.
        """
        options = self.parse("--port", "tcp:5000:interface=127.0.0.1",
                             "--listen", "unix:/tmp/kv.sock",
                             "--listen", "tcp:6000:backlog=9",
                             "--web", "8080")
        self.assertEqual(options["endpoints"],
                         ["tcp:5000:interface=127.0.0.1:backlog=511",
                          "unix:/tmp/kv.sock:backlog=511",
                          "tcp:6000:backlog=9"])
        self.assertEqual(options["listeners"][1],
                         ("listen", "unix:/tmp/kv.sock",
                          "unix:/tmp/kv.sock:backlog=511"))
        self.assertEqual(options["web-endpoint"], "tcp:8080:backlog=511")

    def test_badValues(self):
        """
        Bad values are usage errors naming the option.
        """
        for argv, word in [(("--fsync", "sometimes"), "--fsync"),
                           (("--flush-interval", "x"), "--flush-interval"),
                           (("--flush-interval", "0"), "--flush-interval"),
                           (("--max-clients", "-1"), "--max-clients"),
                           (("--flush-interval", "nan"), "--flush-interval"),
                           (("--flush-interval", "inf"), "--flush-interval"),
                           (("--timeout", "nan"), "--timeout"),
                           (("--timeout", "1e400"), "--timeout"),
                           (("--backend-timeout", "inf"),
                            "--backend-timeout"),
                           (("--max-bulk", "0"), "--max-bulk must be at "
                            "least 1048576"),
                           (("--databases", "0"), "--databases must be "
                            "from 1 to 100000")]:
            e = self.assertRaises(usage.UsageError, self.parse, *argv)
            self.assertIn(word, str(e))

    def test_badPorts(self):
        """
        A port that is not a number nor an endpoint, or out of range, is
        a usage error naming the option, the value and what to give.
        """
        for value in ("abc", "-1"):
            e = self.assertRaises(usage.UsageError, self.parse,
                                  "--port", value)
            self.assertEqual(
                str(e), "--port %s is neither a port number nor an "
                "endpoint description: give a port such as 3490, or an "
                "endpoint such as tcp:3490:interface=127.0.0.1" % (value,))
        e = self.assertRaises(usage.UsageError, self.parse,
                              "--port", "99999")
        self.assertEqual(str(e), "--port 99999: port 99999 is out of "
                         "range: a TCP port is 1 to 65535 (0 takes any "
                         "free one)")
        e = self.assertRaises(usage.UsageError, self.parse,
                              "--listen", "tcp:1:nope=2")
        self.assertEqual(str(e), "--listen tcp:1:nope=2: unknown parameter "
                         "nope")
        e = self.assertRaises(usage.UsageError, self.parse, "--web", "x")
        self.assertIn("--web x is neither", str(e))

    def test_version(self):
        """
        C{--version} prints kvtwist's, Twisted's and the interpreter's
        versions on one line, and exits 0.
        """
        import twisted
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        e = self.assertRaises(SystemExit, self.parse, "--version")
        self.assertEqual(e.code, 0)
        self.assertEqual(len(out.getvalue().splitlines()), 1)
        self.assertTrue(out.getvalue().startswith(
            "kvtwist %s (Twisted %s, " % (__version__, twisted.__version__)),
            out.getvalue())

    def test_pubsubOutputLimit(self):
        """
        --pubsub-output-limit takes Redis's C{HARD SOFT SECONDS}; without
        it, Redis's default; the help shows the default as it is typed,
        not as the tuple it becomes.
        """
        self.assertEqual(self.parse()["pubsub-output-limit"],
                         (32 * 1024 ** 2, 8 * 1024 ** 2, 60))
        self.assertEqual(
            self.parse("--pubsub-output-limit", "1mb 0 5")[
                "pubsub-output-limit"], (1024 ** 2, 0, 5))
        self.assertRaises(usage.UsageError, self.parse,
                          "--pubsub-output-limit", "1mb")
        self.assertNotIn("33554432", str(Options()))

    def test_passwordFile(self):
        """
        --password-file reads the first line; giving both is refused.
        """
        secret = FilePath(self.mktemp())
        secret.setContent(b"hunter2\nignored\n")
        options = self.parse("--password-file", secret.path)
        self.assertEqual(options["password"], b"hunter2")
        self.assertRaises(usage.UsageError, self.parse, "--password-file",
                          secret.path, "--requirepass", "x")
        options = self.parse("--requirepass", "pw")
        self.assertEqual(options["password"], b"pw")


class TwistdOptionsTests(TestCase):
    """
    L{TwistdOptions}: the options as C{twistd kvstore} reads them.
    """

    def setUp(self):
        self.prepared = []
        self.patch(tap, "prepareProcess", self.prepared.append)

    def parse(self, *argv):
        """
        Parse C{argv} as twistd would.
        """
        options = TwistdOptions()
        options.parseOptions(list(argv) + ["--data-dir", self.mktemp()])
        return options

    def test_preparesProcess(self):
        """
        Once parsed, the options make the process-wide choices, with
        themselves.
        """
        options = self.parse("--stock-reactor")
        self.assertEqual(self.prepared, [options])

    def test_mistakeInOneLine(self):
        """
        A mistake stops the process (status 1) with the problem and where
        the options are listed, without the whole help; the process is
        not prepared.
        """
        e = self.assertRaises(SystemExit, self.parse, "--fsync", "often")
        self.assertEqual(str(e).splitlines(), [
            "twistd kvstore: --fsync must be one of always, interval, no, "
            "not 'often'",
            "Run 'twistd kvstore --help' for the options."])
        self.assertEqual(self.prepared, [])

    def test_mistypedOption(self):
        """
        An unknown option is named with the likeliest one meant.
        """
        e = self.assertRaises(SystemExit, self.parse, "--prot", "3490")
        self.assertEqual(str(e).splitlines()[0],
                         "twistd kvstore: option --prot not recognized "
                         "(did you mean --port?)")
        e = self.assertRaises(SystemExit, self.parse, "--zzzzzz")
        self.assertEqual(str(e).splitlines()[0],
                         "twistd kvstore: option --zzzzzz not recognized")

    def test_plugin(self):
        """
        The C{kvstore} twistd plugin reads its options with
        L{TwistdOptions} and builds the service with
        L{tap.makeTwistdService}.
        """
        from twisted.plugins.kvtwist_plugin import kvstore
        self.assertIsInstance(kvstore.options(), TwistdOptions)
        made = []
        self.patch(tap, "makeTwistdService",
                   lambda options: made.append(options) or "svc")
        self.assertEqual(kvstore.makeService("opts"), "svc")
        self.assertEqual(made, ["opts"])


class PrepareProcessTests(TestCase):
    """
    L{tap.prepareProcess}.
    """

    def test_leavesRunningProcess(self):
        """
        In a process whose reactor runs, L{tap.prepareProcess} runs
        nothing again and changes neither the reactor nor the
        environment.
        """
        from kvtwist import nursery

        class RunningReactor:
            running = True

        env = dict(os.environ)
        self.patch(nursery, "nurserySize", lambda: 1024 ** 3)
        asked = []
        self.patch(nursery, "restartArgs",
                   lambda *a: asked.append(a) and None)
        options = Options()
        options.parseOptions(["--data-dir", self.mktemp()])
        tap.prepareProcess(options, {"twisted.internet.reactor":
                                     RunningReactor()})
        self.assertEqual(dict(os.environ), env)
        self.assertEqual(asked, [])


class MakeServiceTests(TestCase):
    """
    L{tap.makeService} and L{tap.makeTwistdService}.
    """

    def options(self, *argv):
        """
        Parsed options, with a fresh data dir unless one is given.
        """
        options = Options()
        if "--data-dir" not in argv:
            argv = argv + ("--data-dir", self.mktemp())
        options.parseOptions(list(argv))
        return options

    def makeService(self, *argv):
        """
        Build the service tree (not started) on a L{MemoryReactorClock}.
        """
        self.reactor = MemoryReactorClock()
        return tap.makeService(self.options(*argv), self.reactor)

    def test_leavesTheProcess(self):
        """
        L{tap.makeService} makes no process-wide choice.
        """
        self.patch(tap, "prepareProcess", lambda options: self.fail(
            "makeService prepared the process"))
        self.makeService()

    def test_listensWithTheReactorGiven(self):
        """
        The listeners (key-value ports and web interface) listen with the
        reactor given, with Redis's backlog.
        """
        top = self.makeService("--port", "tcp:3491:interface=127.0.0.1",
                               "--listen", "tcp:3492", "--web",
                               "tcp:8080:interface=127.0.0.1")
        for svc in top:
            if isinstance(svc, ListenerService):
                svc.privilegedStartService()
        web = [s for s in top if type(s).__name__ == "MultiService"][0]
        for svc in web:
            if isinstance(svc, ListenerService):
                svc.privilegedStartService()
        self.assertEqual([(port, backlog, interface) for
                          port, _, backlog, interface in
                          self.reactor.tcpServers],
                         [(3491, 511, "127.0.0.1"), (3492, 511, ""),
                          (8080, 511, "127.0.0.1")])
        self.assertIs(top.reactor, self.reactor)

    def test_dataDirCreated(self):
        """
        A missing data dir is created when the service is made.
        """
        path = os.path.join(self.mktemp(), "a", "b")
        self.makeService("--data-dir", path)
        self.assertTrue(os.path.isdir(path))

    def test_dataDirIsFile(self):
        """
        A data dir that is a file is a L{StartupError} naming it.
        """
        path = FilePath(self.mktemp())
        path.setContent(b"x")
        e = self.assertRaises(StartupError, self.makeService,
                              "--data-dir", path.path)
        self.assertEqual(str(e), "--data-dir %s is not a directory"
                         % (path.path,))

    def test_dataDirNotWritable(self):
        """
        A data dir that can't be written is a L{StartupError} naming it.
        """
        if os.getuid() == 0:
            raise self.skipTest("root can write anywhere")
        path = FilePath(self.mktemp())
        path.makedirs()
        path.chmod(0o500)
        self.addCleanup(path.chmod, 0o700)
        e = self.assertRaises(StartupError, self.makeService,
                              "--data-dir", path.path)
        self.assertIn(path.path, str(e))

    def test_tryPorts(self):
        """
        L{tap.tryPorts} tries every TCP listener, the web interface's
        too, and names the option of one that can't listen.
        """
        options = self.options("--port", "3491", "--listen", "tcp:3492",
                               "--web", "8080")
        tried = []
        tap.tryPorts(options, tried.append)
        self.assertEqual(tried, ["tcp:3491:backlog=511",
                                 "tcp:3492:backlog=511",
                                 "tcp:8080:backlog=511"])

        def inUse(description):
            if "3492" in description:
                raise ListenError("port 3492 is taken")
        e = self.assertRaises(StartupError, tap.tryPorts, options, inUse)
        self.assertEqual(str(e), "--listen tcp:3492: port 3492 is taken")

    def test_twistdStopsOnStartupError(self):
        """
        L{tap.makeTwistdService} turns a L{StartupError} into a stop of
        the process with its message (status 1), before anything starts.
        """
        path = FilePath(self.mktemp())
        path.setContent(b"x")
        self.patch(tap, "tryPorts", lambda options: None)
        e = self.assertRaises(SystemExit, tap.makeTwistdService,
                              self.options("--data-dir", path.path))
        self.assertEqual(str(e), "twistd kvstore: --data-dir %s is not a "
                         "directory" % (path.path,))
