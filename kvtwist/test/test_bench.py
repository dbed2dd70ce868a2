"""
Tests for the pure parts of L{kvtwist.bench}: parsing C{redis-benchmark}
output, C{INFO} and C{/proc} status text, RESP replies, and the
median/ratio summary.  No processes or sockets.
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.dialects.resp import encodeCommand
from kvtwist import bench

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
    L{bench.parseBenchmarkCSV}.
    """

    def test_headerAndRows(self):
        """
        Each row becomes a dict of its header's columns as floats.
        """
        result = bench.parseBenchmarkCSV(CSV)
        self.assertEqual(sorted(result), ["GET", "SET"])
        self.assertEqual(result["SET"]["rps"], 142857.14)
        self.assertEqual(result["GET"]["max_latency_ms"], 1.143)
        self.assertEqual(result["SET"]["p99_latency_ms"], 0.471)

    def test_oldFormat(self):
        """
        Old versions print C{"TEST","rps"} rows with no header.
        """
        result = bench.parseBenchmarkCSV('"PING_INLINE","8000.00"\n'
                                         '"SET","9000.50"\n')
        self.assertEqual(result, {"PING_INLINE": {"rps": 8000.0},
                                  "SET": {"rps": 9000.5}})

    def test_noise(self):
        """
        Blank lines and rows without a number are skipped.
        """
        result = bench.parseBenchmarkCSV(
            "\n" + CSV + '"BROKEN","n/a"\n\n')
        self.assertEqual(sorted(result), ["GET", "SET"])

    def test_empty(self):
        """
        No output, no results.
        """
        self.assertEqual(bench.parseBenchmarkCSV(""), {})


class ParseLatencySummaryTests(SynchronousTestCase):
    """
    L{bench.parseLatencySummary}.
    """

    def test_summary(self):
        """
        The latency columns and the throughput are read by name.
        """
        self.assertEqual(bench.parseLatencySummary(FULL), {
            "rps": 121951.22, "avg": 0.004, "min": 0.0, "p50": 0.007,
            "p95": 0.007, "p99": 0.015, "max": 0.095})

    def test_lastWins(self):
        """
        With several tests in one output, the last summary is kept.
        """
        other = FULL.replace("0.095", "7.500").replace("121951.22", "10.5")
        result = bench.parseLatencySummary(FULL + other)
        self.assertEqual(result["max"], 7.5)
        self.assertEqual(result["rps"], 10.5)

    def test_carriageReturns(self):
        """
        The progress line's carriage returns don't hide the summary.
        """
        text = "PING: rps=0.0 (overall: -nan)\r" + FULL
        self.assertEqual(bench.parseLatencySummary(text)["max"], 0.095)

    def test_none(self):
        """
        No summary, nothing parsed.
        """
        self.assertEqual(bench.parseLatencySummary("PING: 10 rps\n"), {})


class InfoTests(SynchronousTestCase):
    """
    L{bench.parseInfo} and L{bench.bgsaveInProgress}.
    """

    def test_parse(self):
        """
        Section titles and blank lines are skipped; values keep colons.
        """
        info = bench.parseInfo("# Persistence\r\nrdb_bgsave_in_progress:1"
                               "\r\n\r\n# Keyspace\r\ndb0:keys=3,x=a:b\r\n")
        self.assertEqual(info, {"rdb_bgsave_in_progress": "1",
                                "db0": "keys=3,x=a:b"})

    def test_inProgress(self):
        """
        The Redis field name and the alternatives are understood.
        """
        self.assertTrue(bench.bgsaveInProgress(
            {"rdb_bgsave_in_progress": "1"}))
        self.assertFalse(bench.bgsaveInProgress(
            {"rdb_bgsave_in_progress": "0"}))
        self.assertTrue(bench.bgsaveInProgress({"bgsave_in_progress": "1"}))

    def test_unknown(self):
        """
        L{None} when no known field is present.
        """
        self.assertIsNone(bench.bgsaveInProgress({"loading": "0"}))


class VmRSSTests(SynchronousTestCase):
    """
    L{bench.parseVmRSS}.
    """

    def test_kilobytes(self):
        """
        VmRSS in kB is returned in bytes.
        """
        status = "Name:\tredis-server\nVmHWM:\t  9000 kB\nVmRSS:\t  8124 kB\n"
        self.assertEqual(bench.parseVmRSS(status), 8124 * 1024)

    def test_missing(self):
        """
        No VmRSS line (a zombie) is an error.
        """
        self.assertRaises(ValueError, bench.parseVmRSS, "Name:\tx\n")


class RespTests(SynchronousTestCase):
    """
    L{bench.encodeCommand} and L{bench.parseReply}.
    """

    def test_encode(self):
        """
        Strings, bytes and ints become bulk strings.
        """
        self.assertEqual(bench.encodeCommand("SET", b"k", 12),
                         b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n")

    def test_replies(self):
        """
        Status, error, integer, bulk, null and nested arrays.
        """
        buf = (b"+OK\r\n-ERR no\r\n:42\r\n$3\r\nabc\r\n$-1\r\n"
               b"*2\r\n:1\r\n*1\r\n$0\r\n\r\n")
        pos = 0
        values = []
        while pos < len(buf):
            value, pos = bench.parseReply(buf, pos)
            values.append(value)
        self.assertEqual(values[0], b"OK")
        self.assertIsInstance(values[1], bench.ReplyError)
        self.assertEqual(str(values[1]), "ERR no")
        self.assertEqual(values[2:], [42, b"abc", None, [1, [b""]]])

    def test_resp3(self):
        """
        RESP3 verbatim strings and maps (C{INFO} after C{HELLO 3}).
        """
        self.assertEqual(bench.parseReply(b"=7\r\ntxt:a:1\r\n"),
                         (b"txt:a:1", 13))
        self.assertEqual(bench.parseReply(b"%1\r\n+a\r\n:1\r\n")[0],
                         [b"a", 1])

    def test_incomplete(self):
        """
        A reply cut short raises L{bench.Incomplete}.
        """
        for partial in (b"+OK", b"$3\r\nab", b"*2\r\n:1\r\n"):
            self.assertRaises(bench.Incomplete, bench.parseReply, partial)

    def test_keys(self):
        """
        Key names are zero-padded to at least six digits.
        """
        self.assertEqual(bench.keyName(42, bench.keyWidth(1000000)),
                         b"key:000042")
        self.assertEqual(bench.keyWidth(10000001), 8)


class SummaryTests(SynchronousTestCase):
    """
    L{bench.median}, L{bench.combinedRate}, L{bench.summarizeRounds} and
    L{bench.formatTable}.
    """

    def test_median(self):
        """
        The middle value; missing values are skipped; none is L{None}.
        """
        self.assertEqual(bench.median([3.0, 1.0, 2.0]), 2.0)
        self.assertEqual(bench.median([4.0, None, 2.0]), 3.0)
        self.assertIsNone(bench.median([]))

    def test_combinedRate(self):
        """
        SET+GET is the harmonic mean: equal counts of each, run in turn.
        """
        self.assertEqual(bench.combinedRate([100.0, 300.0]), 150.0)
        self.assertIsNone(bench.combinedRate([100.0, None]))

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
        rows = {r["name"]: r for r in bench.summarizeRounds(rounds)}
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
        rows = bench.summarizeRounds([{"kvtwist": {"TEXT": 10.0}}])
        self.assertEqual(rows, [{"name": "TEXT", "kvtwist": 10.0,
                                 "redis": None, "ratio": None,
                                 "ratios": [None]}])

    def test_formatTable(self):
        """
        Columns are aligned, numbers formatted, L{None} shown as C{-}.
        """
        text = bench.formatTable(["what", "n"],
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
        self.assertEqual(bench.rowLabel("SET+GET P16"), "SET+GET -P 16")
        self.assertEqual(bench.rowLabel("TEXT SET/GET"), "TEXT SET/GET")


class TopFramesTests(SynchronousTestCase):
    """
    L{bench.topFrames}.
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
        self.assertEqual(bench.topFrames(collapsed, 2), [
            (100.0 * 8 / 12, "send (p.py:3)"),
            (25.0, "parse (r.py:9)"),
        ])


class ReferenceServerTests(SynchronousTestCase):
    """
    L{kvtwist.benchref}'s calibration servers answer SET, GET and PING in
    RESP.
    """

    DATA = (encodeCommand("SET", "k", "v") + encodeCommand("GET", "k") +
            encodeCommand("GET", "nope") + encodeCommand("PING"))
    REPLIES = b"+OK\r\n$1\r\nv\r\n$-1\r\n+PONG\r\n"
    # Raw mode reads bulk strings by length: a value may hold CR LF.
    RAW_DATA = (encodeCommand("SET", "k", "v\r\n") +
                encodeCommand("GET", "k") + encodeCommand("GET", "nope") +
                encodeCommand("PING"))
    RAW_REPLIES = b"+OK\r\n$3\r\nv\r\n\r\n$-1\r\n+PONG\r\n"

    def connect(self, protocol, reader=True):
        from twisted.internet.protocol import Factory
        from twisted.internet.testing import StringTransport

        factory = Factory.forProtocol(protocol)
        factory.data = {}
        proto = factory.buildProtocol(None)
        transport = StringTransport()
        proto.makeConnection(transport)
        if not reader:
            proto._reader = None
        return proto, transport

    def test_setGetPing(self):
        """
        Requests split anywhere get the replies Redis would give.
        """
        from kvtwist.benchref import ReferenceProtocol
        proto, transport = self.connect(ReferenceProtocol)
        for i in range(len(self.DATA)):
            proto.dataReceived(self.DATA[i:i + 1])
        self.assertEqual(transport.value(), self.REPLIES)

    def test_rawSplitAnywhere(self):
        """
        The raw-mode server, with hiredis where it is installed and with
        its Python splitter, gives the same replies for a pipeline cut
        anywhere in two reads.
        """
        from kvtwist.benchref import RawReferenceProtocol
        for reader in (True, False):
            for cut in range(len(self.RAW_DATA) + 1):
                proto, transport = self.connect(RawReferenceProtocol, reader)
                proto.dataReceived(self.RAW_DATA[:cut])
                proto.dataReceived(self.RAW_DATA[cut:])
                self.assertEqual(transport.value(), self.RAW_REPLIES,
                                 (reader, cut))

    def test_rawOneWritePerRead(self):
        """
        The replies to a read's requests leave in one write.
        """
        from kvtwist.benchref import RawReferenceProtocol
        for reader in (True, False):
            proto, transport = self.connect(RawReferenceProtocol, reader)
            writes = []
            transport.write = writes.append
            proto.dataReceived(self.RAW_DATA)
            self.assertEqual(writes, [self.RAW_REPLIES])

    def test_splitRequests(self):
        """
        L{splitRequests} returns the complete requests and where the first
        incomplete one starts.
        """
        from kvtwist.benchref import splitRequests
        whole = encodeCommand("SET", "a", "") + encodeCommand("GET", "a")
        self.assertEqual(splitRequests(whole + b"*2\r\n$3\r\nGET\r\n$1"),
                         ([[b"SET", b"a", b""], [b"GET", b"a"]], len(whole)))
        self.assertEqual(splitRequests(b"*1\r\n$4\r\nPING\r"), ([], 0))
