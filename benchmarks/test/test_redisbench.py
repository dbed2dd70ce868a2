"""
Tests for L{benchmarks.redisbench}: reading C{redis-benchmark}'s output.
"""

from twisted.trial.unittest import SynchronousTestCase

from benchmarks.redisbench import parseBenchmarkCSV, parseLatencySummary

CSV = (
    '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",'
    '"p95_latency_ms","p99_latency_ms","max_latency_ms"\n'
    '"SET","142857.14","0.219","0.032","0.199","0.311","0.471","4.863"\n'
    '"GET","165289.25","0.192","0.064","0.191","0.287","0.359","1.143"\n'
)

FULL = """\
====== PING_MBULK ======
  5000 requests completed in 0.04 seconds
  1 parallel clients

Latency by percentile distribution:
0.000% <= 0.007 milliseconds (cumulative count 4949)
100.000% <= 0.095 milliseconds (cumulative count 5000)

Summary:
  throughput summary: 121951.22 requests per second
  latency summary (msec):
          avg       min       p50       p95       p99       max
        0.004     0.000     0.007     0.007     0.015     0.095
"""


class ParseBenchmarkCSVTests(SynchronousTestCase):
    """
    L{parseBenchmarkCSV}.
    """

    def test_headerAndRows(self):
        """
        Each row becomes a dict of its header's columns as floats.
        """
        result = parseBenchmarkCSV(CSV)
        self.assertEqual(sorted(result), ["GET", "SET"])
        self.assertEqual(result["SET"]["rps"], 142857.14)
        self.assertEqual(result["GET"]["max_latency_ms"], 1.143)
        self.assertEqual(result["SET"]["p99_latency_ms"], 0.471)

    def test_oldFormat(self):
        """
        Old versions print C{"TEST","rps"} rows with no header.
        """
        result = parseBenchmarkCSV('"PING_INLINE","8000.00"\n'
                                   '"SET","9000.50"\n')
        self.assertEqual(result, {"PING_INLINE": {"rps": 8000.0},
                                  "SET": {"rps": 9000.5}})

    def test_noise(self):
        """
        Blank lines and rows without a number are skipped.
        """
        result = parseBenchmarkCSV(
            "\n" + CSV + '"BROKEN","n/a"\n\n')
        self.assertEqual(sorted(result), ["GET", "SET"])

    def test_empty(self):
        """
        No output, no results.
        """
        self.assertEqual(parseBenchmarkCSV(""), {})


class ParseLatencySummaryTests(SynchronousTestCase):
    """
    L{parseLatencySummary}.
    """

    def test_summary(self):
        """
        The latency columns and the throughput are read by name.
        """
        self.assertEqual(parseLatencySummary(FULL), {
            "rps": 121951.22, "avg": 0.004, "min": 0.0, "p50": 0.007,
            "p95": 0.007, "p99": 0.015, "max": 0.095})

    def test_lastWins(self):
        """
        With several tests in one output, the last summary is kept.
        """
        other = FULL.replace("0.095", "7.500").replace("121951.22", "10.5")
        result = parseLatencySummary(FULL + other)
        self.assertEqual(result["max"], 7.5)
        self.assertEqual(result["rps"], 10.5)

    def test_carriageReturns(self):
        """
        The progress line's carriage returns don't hide the summary.
        """
        text = "PING: rps=0.0 (overall: -nan)\r" + FULL
        self.assertEqual(parseLatencySummary(text)["max"], 0.095)

    def test_none(self):
        """
        No summary, nothing parsed.
        """
        self.assertEqual(parseLatencySummary("PING: 10 rps\n"), {})
