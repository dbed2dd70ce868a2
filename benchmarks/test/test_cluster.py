"""
Tests for L{benchmarks.cluster}: the front end's command line and the
scenario's table (no server started).
"""

from twisted.trial.unittest import SynchronousTestCase

from benchmarks.cluster import LocalCluster, clusterTable, frontEndServer


class ClusterScenarioTests(SynchronousTestCase):
    """
    The parts of the cluster scenario that need no server.
    """

    def test_frontEndArgv(self):
        """
        The front end runs twistd kvstore with the cluster backend and no
        data directory.
        """
        server = frontEndServer("python3", "CPython",
                                "redis-cluster://127.0.0.1:7000")
        argv = server.argv(0, "/tmp/x")
        self.assertEqual(argv[argv.index("--backend") + 1],
                         "redis-cluster://127.0.0.1:7000")
        self.assertNotIn("--data-dir", argv)
        self.assertEqual(server.name, "front end CPython")

    def test_seeds(self):
        """
        The seeds name every node.
        """
        cluster = LocalCluster()
        cluster.ports = [7000, 7001]
        self.assertEqual(cluster.seeds,
                         "redis-cluster://127.0.0.1:7000,127.0.0.1:7001")

    def test_table(self):
        """
        One row per interpreter and test: front end, standalone, their
        ratio, the target, and the nodes straight.
        """
        results = {"CPython": {
            "summary": [{"name": "SET P1", "front end": 40000.0,
                         "standalone": 80000.0, "ratio": 0.5}],
            "direct": [{"name": "SET P1", "cluster": 150000.0}]}}
        table = clusterTable(results).splitlines()
        self.assertEqual(table[0].split(), ["front", "end", "standalone",
                                            "ratio", "target", "cluster",
                                            "direct"])
        self.assertEqual(table[2].split(),
                         ["CPython", "SET", "P1", "40,000", "80,000",
                          "0.50", "0.50", "150,000"])
