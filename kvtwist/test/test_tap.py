"""
Tests for L{kvtwist.tap}: the twistd kvstore options and service tree.
"""

import os

from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase

from kvtwist.tap import Options, portToEndpoint


class OptionsTests(TestCase):
    """
    Parsing of C{twistd kvstore} options.
    """

    def parse(self, *argv):
        """
        Parse C{argv} with a fresh data dir unless one is given.
        """
        options = Options()
        if "--data-dir" not in argv:
            argv = argv + ("--data-dir", self.mktemp())
        options.parseOptions(list(argv))
        return options

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

    def test_portForms(self):
        """
        A bare number listens on all interfaces; an endpoint string is
        kept; --listen adds more listeners.
        """
        self.assertEqual(portToEndpoint("3491"), "tcp:3491:backlog=511")
        options = self.parse("--port", "tcp:5000:interface=127.0.0.1",
                             "--listen", "unix:/tmp/kv.sock",
                             "--listen", "tcp:6000:backlog=9")
        self.assertEqual(options["endpoints"],
                         ["tcp:5000:interface=127.0.0.1:backlog=511",
                          "unix:/tmp/kv.sock:backlog=511",
                          "tcp:6000:backlog=9"])

    def test_badValues(self):
        """
        Bad values are usage errors naming the option.
        """
        for argv, word in [(("--fsync", "sometimes"), "--fsync"),
                           (("--flush-interval", "x"), "--flush-interval"),
                           (("--flush-interval", "0"), "--flush-interval"),
                           (("--max-clients", "-1"), "--max-clients")]:
            e = self.assertRaises(usage.UsageError, self.parse, *argv)
            self.assertIn(word, str(e))

    def makeService(self, *argv):
        """
        Parse C{argv} and build the service tree (not started).
        """
        from kvtwist.tap import makeService
        return makeService(self.parse(*argv))

    def test_makeServiceLeavesTheProcess(self):
        """
        L{tap.makeService} itself makes no process-wide choice (tests and
        programs that build the service call it).
        """
        from kvtwist import tap
        self.patch(tap, "_prepareProcess", lambda options: self.fail(
            "makeService prepared the process"))
        self.makeService("--data-dir", self.mktemp())

    def test_pluginPreparesProcess(self):
        """
        The C{kvstore} twistd plugin makes the process-wide choices of
        startup, with the options, and then builds the service.
        """
        from kvtwist import tap
        from twisted.plugins.kvtwist_plugin import kvstore
        calls = []
        self.patch(tap, "_prepareProcess",
                   lambda options: calls.append(("prepare", options)))
        self.patch(tap, "makeService",
                   lambda options: calls.append(("make", options)) or "svc")
        options = self.parse("--stock-reactor")
        self.assertEqual(kvstore.makeService(options), "svc")
        self.assertEqual(calls, [("prepare", options), ("make", options)])
        self.assertIsInstance(kvstore.options(), tap.Options)

    def test_prepareProcessLeavesRunningProcess(self):
        """
        In a process whose reactor runs, L{tap._prepareProcess} changes
        neither the reactor nor the environment.
        """
        from twisted.internet import reactor
        from kvtwist import nursery, tap
        env = dict(os.environ)
        self.patch(nursery, "nurserySize", lambda: 1024 ** 3)
        self.patch(reactor, "running", True)
        # Asked for a command line to run again, say there is none: a
        # failure of the test must not replace the test process.
        asked = []
        self.patch(nursery, "restartArgs",
                   lambda *a: asked.append(a) and None)
        tap._prepareProcess(self.parse())
        from twisted.internet import reactor as after
        self.assertIs(after, reactor)
        self.assertEqual(dict(os.environ), env)
        self.assertEqual(asked, [])

    def test_dataDirCreated(self):
        """
        A missing data dir is created when the service is made.
        """
        path = os.path.join(self.mktemp(), "a", "b")
        self.makeService("--data-dir", path)
        self.assertTrue(os.path.isdir(path))

    def test_dataDirIsFile(self):
        """
        A data dir that is a file stops twistd with a message naming it
        (an exit status that is not 0, whatever twistd's version).
        """
        path = FilePath(self.mktemp())
        path.setContent(b"x")
        e = self.assertRaises(SystemExit, self.makeService,
                              "--data-dir", path.path)
        self.assertIn(path.path, str(e))

    def test_dataDirNotWritable(self):
        """
        A data dir that can't be written stops twistd, naming the path.
        """
        if os.getuid() == 0:
            raise self.skipTest("root can write anywhere")
        path = FilePath(self.mktemp())
        path.makedirs()
        path.chmod(0o500)
        self.addCleanup(path.chmod, 0o700)
        e = self.assertRaises(SystemExit, self.makeService,
                              "--data-dir", path.path)
        self.assertIn(path.path, str(e))

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


class ExitStatusTests(TestCase):
    """
    L{KVService} turns a clean signal shutdown into exit status 0.
    """

    def stop(self, cleanly):
        """
        Stop a L{KVService} whose store service stopped C{cleanly}, with a
        reactor that was stopped by SIGTERM.
        """
        from kvtwist.tap import KVService

        class FakeReactor:
            _exitSignal = 15

        class FakeStore:
            stoppedCleanly = cleanly

        top = KVService()
        top.reactor = FakeReactor()
        top.storeService = FakeStore()
        top.startService()
        self.successResultOf(top.stopService())
        return top.reactor._exitSignal

    def test_cleanExitsZero(self):
        """
        After a clean final flush, the signal is forgotten: exit 0.
        """
        self.assertIsNone(self.stop(True))

    def test_uncleanKeepsSignal(self):
        """
        If the flush did not finish, twistd exits with the signal status.
        """
        self.assertEqual(self.stop(False), 15)
