"""
Tests for L{benchmarks.instructions}: reading callgrind's dumps, the
servers' command lines, the table.
"""

from argparse import ArgumentTypeError

from twisted.trial.unittest import SynchronousTestCase

from benchmarks.instructions import (
    callgrindServer, parseServer, table, totalInstructions)

DUMP = """\
# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 17379
events: Ir
summary: 0


totals: 864438194
"""


class InstructionsTests(SynchronousTestCase):

    def test_total(self):
        """
        A dump's total is its C{totals:} line, its last (a dump asked for
        says C{summary: 0}); a dump still being written has none.
        """
        self.assertEqual(totalInstructions(DUMP), 864438194)
        self.assertEqual(totalInstructions("totals: 12\n"), 12)
        self.assertIsNone(totalInstructions("summary: 5\nfl=x\n"))

    def test_server(self):
        """
        The server runs under callgrind, instrumentation off, its dumps in
        its directory, with a fixed hash seed.
        """
        server = callgrindServer("now", "/venv/bin/python")
        argv = server.argv(0, "/tmp/d")
        self.assertEqual(argv[:3], ["valgrind", "--tool=callgrind",
                                    "--instr-atstart=no"])
        self.assertEqual(argv[3], "--callgrind-out-file=/tmp/d/callgrind.out")
        self.assertEqual(argv[4], "/venv/bin/python")
        self.assertIn("tcp:0:interface=127.0.0.1", argv)
        self.assertEqual(server.env, {"PYTHONHASHSEED": "0"})
        self.assertTrue(server.announces)

    def test_parseServer(self):
        """
        C{--server} takes C{LABEL=PYTHON}.
        """
        self.assertEqual(parseServer("a=/x/python=3"), ("a", "/x/python=3"))
        for bad in ["a", "=python", "a="]:
            self.assertRaises(ArgumentTypeError, parseServer, bad)

    def test_table(self):
        """
        One row per load: each server's median, and its ratio to the
        first server's.
        """
        text = table(["old", "new"], {
            ("get", 1): {"old": [100.0, 110.0, 90.0], "new": [105.0]},
            ("set", 16): {"old": [1000.0], "new": [980.0, 990.0]}})
        self.assertEqual(text.splitlines(), [
            "| load | old | new | new/old |",
            "| --- | --- | --- | --- |",
            "| GET -P 1 | 100 | 105 | 1.050 |",
            "| SET -P 16 | 1,000 | 985 | 0.985 |",
        ])
