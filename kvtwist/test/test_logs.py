"""
Tests for L{kvtwist.logs}: C{--log-level}, and repeated warnings limited.
"""

from twisted.application.app import ServerOptions
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import LogLevel, Logger, formatEvent, globalLogPublisher
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from kvtwist import tap
from kvtwist.logs import (LEVELS, RepeatLimiter, TwistdLog, levelFilter,
                          parseLevel)
from kvtwist.factory import Config, KVFactory
from kvtwist.store import Store


class LevelTests(SynchronousTestCase):
    """
    L{parseLevel} and L{levelFilter}.
    """

    def test_names(self):
        """
        Each name of L{LEVELS} is its L{LogLevel}; C{warning} is C{warn};
        case doesn't matter; anything else is refused, naming the choices.
        """
        self.assertEqual([parseLevel(n) for n in LEVELS],
                         [LogLevel.debug, LogLevel.info, LogLevel.warn,
                          LogLevel.error, LogLevel.critical])
        self.assertEqual(parseLevel("WARNING"), LogLevel.warn)
        e = self.assertRaises(ValueError, parseLevel, "loud")
        self.assertEqual(str(e), "--log-level must be one of debug, info, "
                         "warn, error, critical, not 'loud'")

    def test_filter(self):
        """
        The filter passes the events of its level and above.
        """
        seen = []
        log = Logger(observer=levelFilter(seen.append, LogLevel.warn))
        log.info("client 1 connected")
        log.warn("refused")
        log.error("failed")
        self.assertEqual([e["log_format"] for e in seen],
                         ["refused", "failed"])


class FakeLogger:
    """
    What twistd's logger class gives: an observer from its options.
    """

    def __init__(self, options):
        self.options = options

    def _getLogObserver(self):
        return self.options["sink"].append


class FakeRunner:
    """
    A runner class whose C{loggerFactory} is L{FakeLogger}.
    """

    loggerFactory = FakeLogger


class TwistdLogTests(SynchronousTestCase):
    """
    L{TwistdLog} and its use by C{twistd kvstore}'s options.
    """

    def test_filtersTwistdsObserver(self):
        """
        The observer is the one twistd's logger class makes from twistd's
        options, behind the level filter.
        """
        sink = []
        twistdLog = TwistdLog(FakeRunner)
        self.assertEqual(twistdLog.use({"sink": sink}, LogLevel.warn),
                         "kvtwist.logs.TWISTD")
        log = Logger(observer=twistdLog())
        log.info("client 1 connected")
        log.warn("client 1: colon protocol: refused line")
        self.assertEqual([e["log_format"] for e in sink],
                         ["client 1: colon protocol: refused line"])

    def parse(self, *argv):
        """
        Parse C{argv} as C{twistd} would, with C{twistd kvstore}'s options
        under it, making no process-wide choice but the log's.

        @return: twistd's options and the L{TwistdLog} used.
        """
        twistdLog = TwistdLog(FakeRunner)
        self.patch(tap, "prepareProcess", lambda options: tap.filterTwistdLog(
            options, twistdLog))

        class Twistd(ServerOptions):
            subCommands = [("kvstore", None, tap.TwistdOptions, "kvtwist")]

        options = Twistd()
        options.parseOptions(list(argv))
        return options, twistdLog

    def test_twistdLoggerOption(self):
        """
        Under twistd, C{--log-level} makes twistd's C{logger} option the
        filtered observer's factory.
        """
        options, twistdLog = self.parse("kvstore", "--data-dir",
                                        self.mktemp(), "--log-level", "warn")
        self.assertIs(options["logger"], tap.logs.TWISTD)
        self.assertIs(twistdLog.options, options)
        self.assertEqual(twistdLog.level, LogLevel.warn)

    def test_ownLoggerKept(self):
        """
        A C{twistd --logger} of the user's own is left alone.
        """
        options, twistdLog = self.parse(
            "--logger", "twisted.logger.textFileLogObserver", "kvstore",
            "--data-dir", self.mktemp())
        from twisted.logger import textFileLogObserver
        self.assertIs(options["logger"], textFileLogObserver)
        self.assertIsNone(twistdLog.options)

    def test_badLevel(self):
        """
        An unknown level is a usage mistake.
        """
        options = tap.Options()
        e = self.assertRaises(usage.UsageError, options.parseOptions,
                              ["--log-level", "loud"])
        self.assertIn("--log-level must be one of", str(e))


class RepeatLimiterTests(SynchronousTestCase):
    """
    L{RepeatLimiter}.
    """

    def setUp(self):
        self.events = []
        self.clock = Clock()
        self.limiter = RepeatLimiter(
            Logger(observer=self.events.append), self.clock,
            "client {client}: ", burst=3, interval=60, kinds=2, client=7)

    def texts(self):
        """
        The events so far, formatted; then forget them.
        """
        texts = [formatEvent(e) for e in self.events]
        del self.events[:]
        return texts

    def test_burstThenCount(self):
        """
        The first warnings of a kind are logged, the last of them saying
        that more will be counted; the rest are counted and the count is
        logged at L{RepeatLimiter.flush}.
        """
        for i in range(10):
            self.limiter.warn("bad lines", "bad line {n}", n=i)
        self.assertEqual(self.texts(), [
            "client 7: bad line 0", "client 7: bad line 1",
            "client 7: bad line 2 (more bad lines will be counted, not "
            "logged)"])
        self.clock.advance(5)
        self.limiter.flush()
        self.assertEqual(self.texts(),
                         ["client 7: 7 more bad lines in the last 5s"])
        self.limiter.flush()
        self.assertEqual(self.texts(), [])

    def test_countEveryInterval(self):
        """
        While warnings keep coming, their count is logged every
        C{interval} seconds.
        """
        for _ in range(3):
            self.limiter.warn("bad lines", "bad line")
        self.texts()
        self.limiter.warn("bad lines", "bad line")
        self.clock.advance(59)
        self.limiter.warn("bad lines", "bad line")
        self.assertEqual(self.texts(), [])
        self.clock.advance(1)
        self.limiter.warn("bad lines", "bad line")
        self.assertEqual(self.texts(),
                         ["client 7: 3 more bad lines in the last 60s"])

    def test_kindsApart(self):
        """
        Each kind has its own count; beyond C{kinds} kinds the oldest is
        told and forgotten.
        """
        for kind in ("a", "b"):
            for _ in range(4):
                self.limiter.warn(kind, kind)
        self.texts()
        self.limiter.warn("c", "c")
        self.assertEqual(self.texts(), ["client 7: 1 more a in the last 0s",
                                        "client 7: c"])


class RefusalTests(SynchronousTestCase):
    """
    The factory's refusals are logged a few per peer host.
    """

    def test_perHost(self):
        """
        A host connecting again and again while refused gets a few lines
        and a count when the factory stops; another host has its own.
        """
        events = []

        def observe(event):
            if event.get("log_namespace") == "kvtwist.factory.KVFactory":
                events.append(event)
        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        factory = KVFactory(Store(clock=lambda: 0.0), None,
                            Config(maxClients=1), clock=Clock())
        factory.startFactory()

        def connect(host, port):
            peer = IPv4Address("TCP", host, port)
            proto = factory.buildProtocol(peer)
            proto.makeConnection(StringTransport(peerAddress=peer))
        connect("127.0.0.1", 1)
        for port in range(100):
            connect("127.0.0.2", 1000 + port)
        connect("127.0.0.3", 5)
        factory.stopFactory()
        refused = [formatEvent(e) for e in events
                   if "refused" in e["log_format"] or "count" in e]
        self.assertEqual(len(refused), 5 + 1 + 1)
        self.assertEqual(refused[5], "refused client 127.0.0.3:5: ERR max "
                         "number of clients reached")
        self.assertEqual(refused[6], "95 more refused connections from "
                         "127.0.0.2 in the last 0s")
