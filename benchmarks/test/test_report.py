"""
Tests for L{benchmarks.report} and L{benchmarks.profiling}: medians, ratios,
the summary of rounds, tables and profiles.
"""

from twisted.trial.unittest import SynchronousTestCase

from benchmarks.profiling import topFrames
from benchmarks.report import (combinedRate, formatTable, median, rowLabel,
                               summarizeRounds)


class SummaryTests(SynchronousTestCase):
    """
    L{median}, L{combinedRate}, L{summarizeRounds} and
    L{formatTable}.
    """

    def test_median(self):
        """
        The middle value; missing values are skipped; none is L{None}.
        """
        self.assertEqual(median([3.0, 1.0, 2.0]), 2.0)
        self.assertEqual(median([4.0, None, 2.0]), 3.0)
        self.assertIsNone(median([]))

    def test_combinedRate(self):
        """
        SET+GET is the harmonic mean: equal counts of each, run in turn.
        """
        self.assertEqual(combinedRate([100.0, 300.0]), 150.0)
        self.assertIsNone(combinedRate([100.0, None]))

    def test_ratioIsMedianOfRounds(self):
        """
        The ratio is the median of per-round ratios, not the ratio of the
        medians; SET+GET rows are derived per round.
        """
        rounds = [
            {"kvtwist": {"SET P1": 50.0, "GET P1": 50.0},
             "redis": {"SET P1": 100.0, "GET P1": 100.0}},
            {"kvtwist": {"SET P1": 90.0, "GET P1": 90.0},
             "redis": {"SET P1": 100.0, "GET P1": 100.0}},
            {"kvtwist": {"SET P1": 60.0, "GET P1": 60.0},
             "redis": {"SET P1": 200.0, "GET P1": 200.0}},
        ]
        rows = {r["name"]: r for r in summarizeRounds(rounds)}
        self.assertEqual(list(rows), ["SET P1", "GET P1", "SET+GET P1"])
        setRow = rows["SET P1"]
        self.assertEqual(setRow["kvtwist"], 60.0)
        self.assertEqual(setRow["redis"], 100.0)
        self.assertEqual(setRow["ratios"], [0.5, 0.9, 0.3])
        self.assertEqual(setRow["ratio"], 0.5)
        self.assertEqual(rows["SET+GET P1"]["ratios"], [0.5, 0.9, 0.3])

    def test_missingServer(self):
        """
        A round without the baseline gives no ratio for that round.
        """
        rows = summarizeRounds([{"kvtwist": {"TEXT": 10.0}}])
        self.assertEqual(rows, [{"name": "TEXT", "kvtwist": 10.0,
                                 "redis": None, "ratio": None,
                                 "ratios": [None]}])

    def test_formatTable(self):
        """
        Columns are aligned, numbers formatted, L{None} shown as C{-}.
        """
        text = formatTable(["what", "n"],
                           [["SET", 123456.7], ["ratio", 0.654],
                            ["none", None]])
        self.assertEqual(text.splitlines(), [
            "what         n",
            "-----  -------",
            "SET    123,457",
            "ratio     0.65",
            "none         -",
        ])

    def test_rowLabel(self):
        """
        Pipeline depths are shown as redis-benchmark options.
        """
        self.assertEqual(rowLabel("SET+GET P16"), "SET+GET -P 16")
        self.assertEqual(rowLabel("TEXT SET/GET"), "TEXT SET/GET")


class TopFramesTests(SynchronousTestCase):
    """
    L{topFrames}.
    """

    def test_selfTime(self):
        """
        Samples are credited to the innermost frame, as percentages,
        largest first.
        """
        collapsed = ("main;run;send (p.py:3) 6\n"
                     "main;run;parse (r.py:9) 3\n"
                     "main;send (p.py:3) 2\n"
                     "main 1\n"
                     "garbage\n")
        self.assertEqual(topFrames(collapsed, 2), [
            (100.0 * 8 / 12, "send (p.py:3)"),
            (25.0, "parse (r.py:9)"),
        ])
