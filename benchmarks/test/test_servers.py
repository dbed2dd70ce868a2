"""
Tests for L{benchmarks.servers}, and for what the benchmark shares with
kvtwist: nothing but its public entry points.
"""

import ast
import os

from twisted.trial.unittest import SynchronousTestCase

from benchmarks.servers import LISTENING, kvtwistServer, referenceServer


class ListeningTests(SynchronousTestCase):
    """
    L{LISTENING} finds the port a server given port 0 got.
    """

    def test_kvtwist(self):
        """
        C{twistd kvstore}'s log line gives its port.
        """
        line = (b"2026-12-02T07:02:00+0000 [kvtwist.services.ListenerService"
                b"#info] Server listening on 127.0.0.1:41234\n")
        self.assertEqual(LISTENING.search(line).group(1), b"41234")

    def test_reference(self):
        """
        The calibration server's log line gives its port.
        """
        line = b"2026-12-02T07:02:00+0000 [-] ReferenceProtocol listening " \
               b"on 127.0.0.1:5\n"
        self.assertEqual(LISTENING.search(line).group(1), b"5")

    def test_otherInterface(self):
        """
        Only a loopback listener counts: the benchmark connects there.
        """
        self.assertIsNone(LISTENING.search(
            b"Server listening on 0.0.0.0:3490\n"))


class CommandLineTests(SynchronousTestCase):
    """
    How the servers are started.
    """

    def test_kvtwistOnPortZero(self):
        """
        kvtwist is started through twistd on port 0 of the loopback
        interface, and announces its port.
        """
        server = kvtwistServer("python3", "CPython")
        argv = server.argv(0, "/data")
        self.assertIn("kvstore", argv)
        self.assertIn("tcp:0:interface=127.0.0.1", argv)
        self.assertTrue(server.announces)

    def test_referenceFromCheckout(self):
        """
        The calibration servers run from this checkout, wherever their
        working directory is.
        """
        server = referenceServer("python3", "CPython", raw=True)
        self.assertEqual(server.argv(0, "/data")[-3:],
                         ["benchmarks.reference", "--raw", "0"])
        here = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        self.assertEqual(server.env["PYTHONPATH"], here)


def _imports(path: str):
    """
    Every module name an C{import} statement of the file at C{path} names.
    """
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


class IndependenceTests(SynchronousTestCase):
    """
    The benchmark measures kvtwist from the outside.
    """

    def test_noKvtwistImport(self):
        """
        No module of the C{benchmarks} package imports kvtwist: it runs
        C{twistd kvstore} and talks to it over the network.
        """
        top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        found = []
        for directory, _, files in os.walk(top):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(directory, name)
                    found.extend(
                        (os.path.relpath(path, top), module)
                        for module in _imports(path)
                        if module.split(".")[0] == "kvtwist")
        self.assertEqual(found, [])
