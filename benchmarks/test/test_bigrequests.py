"""
Tests for L{benchmarks.bigrequests}: the huge request, the memory peak and
the table.
"""

import os

from twisted.trial.unittest import SynchronousTestCase

from benchmarks.bigrequests import PeakRSS, bigRequestsTable, msetRequest
from benchmarks.resp import parseReply


class BigRequestsTests(SynchronousTestCase):
    """
    The parts that need no server.
    """

    def test_msetRequest(self):
        """
        One RESP array: MSET, then each key and its value.
        """
        request, end = parseReply(msetRequest(3))
        self.assertEqual(end, len(msetRequest(3)))
        self.assertEqual(request, [b"MSET", b"k0000000", b"0", b"k0000001",
                                   b"1", b"k0000002", b"2"])

    def test_peakOfThisProcess(self):
        """
        The peak of a running process is at least its RSS now.
        """
        from benchmarks.memory import rss
        peak = PeakRSS(os.getpid())
        self.assertGreaterEqual(peak.stop(), rss(os.getpid()) // 2)

    def test_table(self):
        """
        One column per server, a ratio to redis under each timing; missing
        figures are shown as such.
        """
        table = bigRequestsTable({
            "redis": {"msetArguments": 7, "msetSeconds": 0.5,
                      "msetPingWorstMs": 100.0},
            "kvtwist CPython": {"msetArguments": 7, "msetSeconds": 1.0,
                                "msetPingWorstMs": 150.0}})
        lines = table.splitlines()
        self.assertIn("kvtwist CPython", lines[0])
        ratios = [line for line in lines if "ratio to redis" in line]
        self.assertIn("2", ratios[0])
        self.assertIn("1.5", ratios[1])
        self.assertIsNone(bigRequestsTable({}))
