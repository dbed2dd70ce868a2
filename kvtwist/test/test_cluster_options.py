"""
Tests for the C{--backend*} options of L{kvtwist.tap} and the service tree
of a cluster front end.
"""

from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage
from twisted.trial.unittest import TestCase

from kvtwist import tap
from kvtwist.backends.cluster.backend import ClusterBackend
from kvtwist.backends.cluster.probe import ClusterMisconfigured
from kvtwist.backends.cluster.service import ClusterService
from kvtwist.backends.cluster.slots import Address
from kvtwist.services import StartupError
from kvtwist.tap import Options

SEEDS = "redis-cluster://10.0.0.1:7000,10.0.0.2:7000"


class BackendOptionsTests(TestCase):
    """
    Reading C{--backend}, C{--backend-password-file}, C{--backend-wait},
    C{--backend-timeout}.
    """

    def parse(self, *argv):
        options = Options()
        options.parseOptions(list(argv))
        return options

    def test_memoryDefault(self):
        """
        Without C{--backend}, the memory backend; no cluster.
        """
        options = self.parse("--data-dir", self.mktemp())
        self.assertEqual(options["backend"], "memory")
        self.assertIsNone(options["cluster"])

    def test_cluster(self):
        """
        C{--backend redis-cluster://...}: the seeds, the wait, the timeout.
        """
        options = self.parse("--backend", SEEDS, "--backend-wait", "1:250",
                             "--backend-timeout", "2.5")
        self.assertEqual(options["cluster"].seeds,
                         (Address("10.0.0.1", 7000),
                          Address("10.0.0.2", 7000)))
        self.assertEqual((options["backend-wait-replicas"],
                          options["backend-wait-ms"]), (1, 250))
        self.assertEqual(options["backend-timeout"], 2.5)

    def test_dataOptionsRefused(self):
        """
        C{--data-dir}, C{--fsync} and C{--flush-interval}, however
        written, are refused with a cluster backend, in one line.
        """
        for argv in (["--data-dir", "/tmp"], ["-d", "/tmp"], ["-d/tmp"],
                     ["--data-d=/tmp"], ["--fsync", "always"],
                     ["--flush-interval", "2"], ["--load-damaged"]):
            e = self.assertRaises(usage.UsageError, self.parse,
                                  "--backend", SEEDS, *argv)
            self.assertIn("has no use with --backend", str(e))
            self.assertIn("keeps no data", str(e))
            self.assertNotIn("\n", str(e))

    def test_databases(self):
        """
        C{--databases} with a cluster backend: a cluster has one.
        """
        e = self.assertRaises(usage.UsageError, self.parse, "--backend",
                              SEEDS, "--databases", "4")
        self.assertIn("a cluster has one database", str(e))

    def test_badValues(self):
        """
        Mistakes name the option.
        """
        for argv, words in [
                (["--backend", "redis://h:1"], "must be memory or"),
                (["--backend", "disk"], "must be memory or"),
                (["--backend", SEEDS, "--backend-wait", "x"], "N or N:MS"),
                (["--backend", SEEDS, "--backend-wait", "1:9000"],
                 "less than --backend-timeout"),
                (["--backend", SEEDS, "--backend-timeout", "0"],
                 "must be positive"),
                (["--backend-wait", "1"], "goes with --backend"),
                (["--backend", SEEDS, "--backend-password-file",
                  "/nonexistent"], "cannot read --backend-password-file"),
                (["--backend", SEEDS, "--backend-ca-file", "ca.pem"],
                 "goes with rediss-cluster://")]:
            e = self.assertRaises(usage.UsageError, self.parse, *argv)
            self.assertIn(words, str(e))

    def test_passwordFile(self):
        """
        The first line of C{--backend-password-file} is the password.
        """
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(b"s3cret\nignored\n")
        options = self.parse("--backend", SEEDS,
                             "--backend-password-file", path)
        self.assertEqual(options["backend-password"], b"s3cret")


class ClusterServiceTests(TestCase):
    """
    The service tree of a front end.
    """

    def test_tree(self):
        """
        No store service and no data directory: a cluster service first
        (started first, stopped last), the factory's backend the cluster
        backend, CONFIG GET showing it.
        """
        options = Options()
        options.parseOptions(["--backend", SEEDS, "--port",
                              "tcp:0:interface=127.0.0.1"])
        reactor = MemoryReactorClock()
        top = tap.makeService(options, reactor)
        children = list(top)
        self.assertIsInstance(children[0], ClusterService)
        self.assertIsNone(top.storeService)
        listener = [c for c in children if hasattr(c, "description")][0]
        factory = listener.factory
        self.assertIsInstance(factory.backend, ClusterBackend)
        self.assertIsNone(factory.store)
        self.assertEqual(factory.config.view()["backend"], SEEDS)
        self.assertNotIn("dir", factory.config.view())
        top.startService()
        self.assertEqual([(h, p) for h, p, *_ in reactor.tcpClients],
                         [("10.0.0.1", 7000)])
        top.stopService()
        self.assertTrue(factory.backend.router.stopped)

    def test_checkCluster(self):
        """
        A seed that answers wrongly stops the start with its message; one
        that can't be reached is only a warning.
        """
        options = Options()
        options.parseOptions(["--backend", SEEDS])

        def misconfigured(*args, **kwargs):
            raise ClusterMisconfigured("--backend: 10.0.0.1:7000 is not a "
                                       "Redis Cluster node")
        e = self.assertRaises(StartupError, tap.checkCluster, options,
                              misconfigured)
        self.assertIn("is not a Redis Cluster node", str(e))
        tap.checkCluster(options, lambda *a, **k: "cannot reach any seed")
        memory = Options()
        memory.parseOptions(["--data-dir", self.mktemp()])
        tap.checkCluster(memory, misconfigured)
