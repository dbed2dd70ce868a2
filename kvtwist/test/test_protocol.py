"""
Tests for L{kvtwist.protocol} and L{kvtwist.factory}: framing, dialect
detection, ordered replies, client tracking, limits.
"""

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.python.failure import Failure
from twisted.internet.error import ConnectionDone
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from kvtwist import transport as kvtransport
from kvtwist.dialects import resp
from kvtwist.protocol import replyqueue
from kvtwist.dialects.resp import encodeCommand
from kvtwist.factory import Config, KVFactory
from kvtwist.interfaces import Backpressure
from kvtwist.store import Store


class FakeService:
    """
    Just enough of a store service for the protocol: no failure, and
    optionally a Deferred to wait on for durability.
    """

    failure = None
    flushDurations = snapshotDurations = ()

    def __init__(self):
        self.waiting = []
        self.durable = False
        self.pressure = False
        self.sealed = 0

    def sealBatch(self):
        self.sealed += 1

    def journalSeq(self):
        return 0

    def groupSince(self, since):
        return 0

    def whenDurable(self):
        if self.pressure:
            d = Backpressure()
        elif self.durable:
            d = Deferred()
        else:
            return None
        self.waiting.append(d)
        return d

    def fire(self):
        waiting, self.waiting = self.waiting, []
        for d in waiting:
            d.callback(None)

    def info(self):
        return {"aof_enabled": 1}


def makeFactory(**config):
    """
    A factory on a L{Clock} with a fresh store.
    """
    clock = Clock()
    clock.advance(1000)
    store = Store(lambda: clock.seconds() * 1000)
    service = FakeService()
    factory = KVFactory(store, service, Config(**config), clock=clock)
    return factory, clock


def connect(factory, host="127.0.0.1", port=40000,
            transportType=StringTransportWithDisconnection):
    """
    Connect a protocol from C{factory} to a string transport (of
    C{transportType}) from C{host}:C{port}.
    """
    addr = IPv4Address("TCP", host, port)
    proto = factory.buildProtocol(addr)
    transport = transportType(peerAddress=addr)
    transport.protocol = proto
    proto.makeConnection(transport)
    return proto, transport


def lose(proto):
    """
    Tell C{proto} its connection ended cleanly.
    """
    proto.connectionLost(Failure(ConnectionDone()))


class ConnectedMixin:
    """
    A test case with one connected protocol and a way to talk to it.
    """

    def setUp(self):
        self.factory, self.clock = makeFactory()
        self.proto, self.transport = connect(self.factory)

    def send(self, data):
        """
        Feed C{data} to the protocol; return what it wrote back.
        """
        self.transport.clear()
        self.proto.dataReceived(data)
        return self.transport.value()


class BigReplyTests(ConnectedMixin, SynchronousTestCase):
    """
    A big value's reply goes out as the value itself, streamed by the
    writer (L{kvtwist.protocol.writer}), in order with the rest.
    """

    def test_bigGet(self):
        """
        A pipeline of C{GET} of a value of L{writer.LARGE} bytes, between
        two C{PING}s, answers all three in order, the value intact; the
        value is not copied into its reply (the transport is given the
        very object, in slices of it).
        """
        from kvtwist.protocol import writer
        big = bytes(range(256)) * (writer.LARGE // 256)
        self.factory.store.set(b"big", big)
        self.send(encodeCommand("PING") + encodeCommand("GET", "big") +
                  encodeCommand("PING"))
        # (The value spent the read's output budget: the rest runs on the
        # next turn.)
        self.clock.advance(0)
        self.assertEqual(self.transport.value(), b"+PONG\r\n$%d\r\n%s\r\n+PONG\r\n"
                         % (len(big), big))
        self.assertFalse(self.proto.writer.streaming())

    def test_bigGetThenQuit(self):
        """
        A C{QUIT} after it closes the connection once the value is all
        given to the transport.
        """
        from kvtwist.protocol import writer
        big = b"v" * writer.LARGE
        self.factory.store.set(b"big", big)
        self.send(encodeCommand("GET", "big") + encodeCommand("QUIT"))
        self.clock.advance(0)
        self.assertEqual(self.transport.value(),
                         b"$%d\r\n%s\r\n+OK\r\n" % (len(big), big))
        self.assertFalse(self.transport.connected)


class TextProtocolTests(ConnectedMixin, SynchronousTestCase):
    """
    The seed's telnet session.
    """

    def test_seedSession(self):
        """
        SET, GET, REMOVE and quit answer exactly as the threaded seed did.
        """
        self.assertEqual(self.send(b"SET mykey myvalue\n"),
                         b"Added key 'mykey' with value 'myvalue'\r\n")
        self.assertEqual(self.send(b"SET mykey other\r\n"),
                         b"Updated key 'mykey' with value 'other'\r\n")
        self.assertEqual(self.send(b"get mykey\n"), b"other\r\n")
        self.assertEqual(self.send(b"GET k\n"), b"Key 'k' not found.\r\n")
        self.assertEqual(self.send(b"REMOVE mykey\n"),
                         b"Removed key 'mykey'.\r\n")
        self.assertEqual(self.send(b"delete mykey\n"),
                         b"Key 'mykey' not found.\r\n")
        self.assertTrue(self.transport.connected)
        self.assertEqual(self.send(b"quit\n"), b"Goodbye!\r\n")
        self.assertFalse(self.transport.connected)

    def test_valueSpacesKept(self):
        """
        The value of SET is the rest of the line, inner spaces kept
        verbatim, the blanks around it dropped.
        """
        self.send(b"SET greeting  hello  world \n")
        self.assertEqual(self.factory.store.get(b"greeting"),
                         b"hello  world")
        self.send(b"SET msg don't \"panic\"\n")
        self.assertEqual(self.factory.store.get(b"msg"), b"don't \"panic\"")
        self.send(b'SET quoted "a\\nb" EX 100\n')
        self.assertEqual(self.factory.store.get(b"quoted"), b"a\nb")

    def test_printBlock(self):
        """
        PRINT is a block ending in a lone dot; lines starting with a dot
        are dot-stuffed; an empty store says so.
        """
        self.assertEqual(self.send(b"PRINT\n"), b"Store is empty.\r\n.\r\n")
        self.send(b"SET a 1\nSET .b .x\n")
        self.assertEqual(self.send(b"PRINT\n"),
                         b"a: 1\r\n..b: .x\r\n.\r\n")

    def test_errorsKeepConnection(self):
        """
        Unknown commands and wrong arity get one ERR line; the connection
        goes on.
        """
        self.assertEqual(
            self.send(b"FROB x\n"),
            b"ERR unknown command 'FROB', with args beginning with: 'x'\r\n")
        self.assertEqual(
            self.send(b"GET\n"),
            b"ERR wrong number of arguments for 'get' command\r\n")
        self.assertTrue(self.transport.connected)
        self.assertEqual(self.send(b"SET a b\n"),
                         b"Added key 'a' with value 'b'\r\n")

    def test_splitAnywhere(self):
        """
        A line split across packets runs once complete.
        """
        self.assertEqual(self.send(b"SE"), b"")
        self.assertEqual(self.send(b"T k v"), b"")
        self.assertEqual(self.send(b"\r\nGET k\n"),
                         b"Added key 'k' with value 'v'\r\nv\r\n")

    def test_inlinePing(self):
        """
        A bare PING line gets RESP's +PONG, as Redis's inline protocol.
        """
        self.assertEqual(self.send(b"PING\r\n"), b"+PONG\r\n")

    def test_tooBigInline(self):
        """
        A line over 64 KiB gets Redis's error and the connection closes.
        """
        out = self.send(b"x" * (64 * 1024 + 10))
        self.assertEqual(out, b"-ERR Protocol error: too big inline "
                              b"request\r\n")
        self.assertFalse(self.transport.connected)

    def test_multiCommands(self):
        """
        MSET, MGET (a block), EXISTS, KEYS and INCR from the gevent seeds.
        """
        self.assertEqual(self.send(b"MSET a 1 b 2\n"), b"OK\r\n")
        self.assertEqual(self.send(b"MGET a b c\n"),
                         b"1\r\n2\r\n(nil)\r\n.\r\n")
        self.assertEqual(self.send(b"EXISTS a c\n"), b"1\r\n")
        self.assertEqual(self.send(b"INCR a\n"), b"2\r\n")
        self.assertEqual(self.send(b"KEYS b*\n"), b"b\r\n.\r\n")
        self.assertEqual(self.send(b"KEYS\n"), b"a\r\nb\r\n.\r\n")

    def test_info(self):
        """
        INFO shows the client counts, keys and persistence fields.
        """
        self.send(b"SET a 1\n")
        other, _ = connect(self.factory, port=40001)
        lose(other)
        out = self.send(b"INFO\n")
        self.assertIn(b"connected_clients:1\r\n", out)
        self.assertIn(b"dropped_clients:1\r\n", out)
        self.assertIn(b"keys:1\r\n", out)
        self.assertIn(b"aof_enabled:1\r\n", out)
        self.assertTrue(out.endswith(b"\r\n.\r\n"))


class RespProtocolTests(ConnectedMixin, SynchronousTestCase):
    """
    RESP framing through the protocol.
    """

    def test_sealsAfterEachRead(self):
        """
        After running what each read held, the connection lets the store
        service encode the ops journaled meanwhile (so that they don't
        stay in memory as tuples until the next flush).
        """
        service = self.factory.service
        self.send(encodeCommand("SET", "a", "1") + encodeCommand("GET", "a"))
        self.assertEqual(service.sealed, 1)
        self.send(encodeCommand("SET", "b", "2")[:5])
        self.assertEqual(service.sealed, 2)

    def test_everyByteBoundary(self):
        """
        A pipeline split at any byte boundary gives the same replies.
        """
        pipeline = (encodeCommand("SET", "k\r\n", "v\x00") +
                    encodeCommand("GET", "k\r\n") +
                    b"GET k\r\n" +
                    encodeCommand("DEL", "k\r\n"))
        expected = None
        for cut in range(1, len(pipeline)):
            factory, _ = makeFactory()
            proto, transport = connect(factory)
            proto.dataReceived(pipeline[:cut])
            proto.dataReceived(pipeline[cut:])
            if expected is None:
                expected = transport.value()
            self.assertEqual(transport.value(), expected, cut)
        self.assertEqual(expected,
                         b"+OK\r\n$2\r\nv\x00\r\n$-1\r\n:1\r\n")

    def test_repliesAsRendered(self):
        """
        The replies the batch loop renders itself (bulk strings, status
        lines) are what L{resp.render} makes of them, in RESP2 and RESP3,
        among replies it leaves to L{resp.render}.
        """
        from kvtwist.replies import Status
        requests = [
            (("SET", "k", b"\x00\r\n\xff"), Status("OK")),
            (("GET", "k"), b"\x00\r\n\xff"),
            (("SET", "e", b""), Status("OK")),
            (("GET", "e"), b""),
            (("TYPE", "k"), Status("string")),
            (("TYPE", "k"), Status("string")),
            (("GET", "missing"), None),
            (("EXISTS", "k", "e"), 2),
            (("PING",), Status("PONG")),
        ]
        for protover in (2, 3):
            self.proto.state.protover = protover
            wire = b"".join(encodeCommand(*args) for args, _ in requests)
            self.assertEqual(
                self.send(wire),
                b"".join(resp.render(reply, protover)
                         for _, reply in requests), protover)

    def test_protocolError(self):
        """
        A broken multibulk gets Redis's error and the connection closes.
        """
        self.assertEqual(self.send(b"*2\r\n$3\r\nGET\r\n:1\r\n"),
                         b"-ERR Protocol error: expected '$', got ':'\r\n")
        self.assertFalse(self.transport.connected)

    def test_bulkLimitCheckedFirst(self):
        """
        A bulk length over the limit is refused before its bytes arrive.
        """
        factory, _ = makeFactory(maxBulk=1000)
        proto, transport = connect(factory)
        proto.dataReceived(b"*2\r\n$3\r\nGET\r\n$1001\r\n")
        self.assertEqual(transport.value(),
                         b"-ERR Protocol error: invalid bulk length\r\n")

    def test_longRequestParsedOnce(self):
        """
        An MSET of 20,000 arguments arriving in 100-byte reads is parsed a
        read at a time: the RESP parsers are given each byte a bounded
        number of times (the request was joined and parsed again from its
        first argument on every read: quadratic), and it runs once whole.
        """
        seen = [0]
        for name in ("parseMany", "parseCount", "parseBulks",
                     "parseCommand"):
            original = getattr(resp, name, None)
            if original is None:
                continue

            def counting(buf, pos, *args, _original=original):
                seen[0] += len(buf) - pos
                return _original(buf, pos, *args)

            self.patch(resp, name, counting)
        args = [b"MSET"]
        for i in range(10000):
            args += [b"key:%d" % (i,), b"value:%d" % (i,)]
        wire = encodeCommand(*args)
        for i in range(0, len(wire), 100):
            self.assertEqual(self.send(wire[i:i + 100]),
                             b"+OK\r\n" if i + 100 >= len(wire) else b"")
        self.assertEqual(self.factory.store.get(b"key:9999"), b"value:9999")
        self.assertLess(seen[0], 3 * len(wire))

    def test_resp3AfterHello(self):
        """
        After HELLO 3 nulls and maps use RESP3 types.
        """
        out = self.send(encodeCommand("HELLO", "3"))
        self.assertTrue(out.startswith(b"%8\r\n"))
        self.assertEqual(self.send(encodeCommand("GET", "nope")), b"_\r\n")

    def test_orderedBehindDeferred(self):
        """
        With a durability wait, later replies wait behind the write's.
        """
        self.factory.service.durable = True
        out = self.send(encodeCommand("SET", "a", "1") +
                        encodeCommand("GET", "a"))
        self.assertEqual(out, b"")
        self.factory.service.fire()
        self.assertEqual(self.transport.value(), b"+OK\r\n$1\r\n1\r\n")

    def test_halfCloseWaitsForReplies(self):
        """
        A client that closes its side after its requests (C{printf ... |
        nc -N}) still gets the replies that come later (here, a write's
        after its fsync), then the connection closes.
        """
        self.factory.service.durable = True
        self.send(b"SET a 1\nGET a\n")
        self.proto.readConnectionLost()
        self.assertEqual(self.transport.value(), b"")
        self.assertTrue(self.transport.connected)
        self.factory.service.fire()
        self.assertEqual(self.transport.value(),
                         b"Added key 'a' with value '1'\r\n1\r\n")
        self.assertFalse(self.transport.connected)
        # The client's close, not the server's.
        self.assertIsNone(self.proto.disconnectReason)
        lose(self.proto)
        self.assertEqual(self.factory.stats.closedByServer, 0)

    def test_backpressureStopsReading(self):
        """
        A write whose reply is a L{Backpressure} (the log is far behind)
        holds the client's next requests unread until it fires; then they
        run, and the replies come in order.  (A write waiting for its
        fsync, L{test_orderedBehindDeferred}, doesn't stop the reading.)
        """
        self.factory.service.pressure = True
        out = self.send(encodeCommand("SET", "a", "1") +
                        encodeCommand("SET", "b", "2") +
                        encodeCommand("GET", "a"))
        self.assertEqual(out, b"")
        self.assertEqual(self.transport.producerState, "paused")
        self.assertIsNone(self.factory.store.get(b"b"))
        self.factory.service.pressure = False
        self.factory.service.fire()
        self.clock.advance(0)
        self.assertEqual(self.transport.value(),
                         b"+OK\r\n+OK\r\n$1\r\n1\r\n")
        self.assertEqual(self.factory.store.get(b"b"), b"2")
        self.assertEqual(self.transport.producerState, "producing")

    def test_quitClosesAfterReply(self):
        """
        QUIT answers +OK, then the connection closes; later input is
        ignored.
        """
        out = self.send(encodeCommand("QUIT") + encodeCommand("SET", "x", "1"))
        self.assertEqual(out, b"+OK\r\n")
        self.assertFalse(self.transport.connected)
        self.assertIsNone(self.factory.store.get(b"x"))


class InlineOnRespTests(ConnectedMixin, SynchronousTestCase):
    """
    A RESP connection stays RESP: once a client has sent a RESP request,
    its lines are inline commands, split as Redis splits them and answered
    in RESP.
    """

    def setUp(self):
        ConnectedMixin.setUp(self)
        self.assertEqual(self.send(encodeCommand("PING")), b"+PONG\r\n")

    def test_answeredInResp(self):
        """
        C{PING}, C{SET k v} and C{GET k} as lines get RESP replies, not the
        text dialect's; blank lines are ignored; RESP requests go on
        around them.
        """
        self.assertEqual(
            self.send(b"PING\r\nSET k v\r\n\r\n  \nGET k\n" +
                      encodeCommand("GET", "k") + b"GET nope\r\n"),
            b"+PONG\r\n+OK\r\n$1\r\nv\r\n$1\r\nv\r\n$-1\r\n")
        self.assertEqual(self.send(b"REMOVE k\r\n"),
                         b"-ERR unknown command 'REMOVE', with args "
                         b"beginning with: 'k'\r\n")
        self.assertEqual(self.proto.state.dialect, "resp")

    def test_quotes(self):
        """
        Quotes and escapes are Redis's: double quotes with C{\\xHH} and
        C{\\n} escapes, single quotes taken literally.
        """
        self.assertEqual(
            self.send(b'SET k "a b\\x41\\n" \r\nGET k\r\n'
                      b"ECHO 'it\\'s \\n'\r\n"),
            b"+OK\r\n$5\r\na bA\n\r\n$7\r\nit's \\n\r\n")

    def test_resp3(self):
        """
        After C{HELLO 3}, inline commands get RESP3 replies.
        """
        self.send(b"HELLO 3\r\n")
        self.assertEqual(self.send(b"GET nope\r\n"), b"_\r\n")

    def test_unbalancedQuotes(self):
        """
        Unbalanced quotes get Redis's protocol error, starting with C{-},
        and the connection closes.
        """
        self.assertEqual(self.send(b'SET k "v\r\nPING\r\n'),
                         b"-ERR Protocol error: unbalanced quotes in "
                         b"request\r\n")
        self.assertFalse(self.transport.connected)

    def test_tooBig(self):
        """
        A line over the limit, ended or not, gets Redis's protocol error
        and the connection closes.
        """
        for line in [b"x" * (65 * 1024), b"x" * (65 * 1024) + b"\r\n"]:
            self.setUp()
            self.assertEqual(self.send(line),
                             b"-ERR Protocol error: too big inline "
                             b"request\r\n")
            self.assertFalse(self.transport.connected)

    def test_textConnectionUnchanged(self):
        """
        A connection that never sent a RESP request keeps the text
        dialect's replies.
        """
        proto, transport = connect(self.factory, port=2)
        proto.dataReceived(b"SET t v\r\nGET t\r\n")
        self.assertEqual(transport.value(),
                         b"Added key 't' with value 'v'\r\nv\r\n")


class TelnetTests(ConnectedMixin, SynchronousTestCase):
    """
    A person on telnet: the Telnet commands it sends with what is typed.
    """

    def test_ctrlC(self):
        """
        Ctrl+C in telnet's line mode (IAC IP and IAC DO TIMING-MARK, in a
        packet of their own) is answered with the timing mark, so telnet
        shows output again, and nothing else; the next command runs as
        typed (it became part of it, and the session hung).
        """
        self.send(b"SET k v\r\n")
        self.assertEqual(self.send(b"\xff\xf4\xff\xfd\x06"), b"\xff\xfb\x06")
        self.assertEqual(self.send(b"GET k\r\n"), b"v\r\n")
        self.assertEqual(self.proto.state.lastCommand, b"GET")

    def test_ctrlCCancelsTheLine(self):
        """
        In character mode telnet sends what is typed as it is typed:
        Ctrl+C cancels the line typed so far, as in a shell.
        """
        self.send(b"SET k v\r\n")
        for byte in b"DEL k":
            self.send(bytes([byte]))
        self.assertEqual(self.send(b"\xff\xf4\xff\xfd\x06"), b"\xff\xfb\x06")
        self.assertEqual(self.send(b"GET k\r\n"), b"v\r\n")

    def test_negotiationRefused(self):
        """
        Options telnet offers or asks for are refused, and the line around
        them runs.
        """
        self.assertEqual(self.send(b"\xff\xfb\x18\xff\xfd\x03PING\r\n"),
                         b"\xff\xfe\x18\xff\xfc\x03+PONG\r\n")

    def test_timingMarkAfterEarlierReplies(self):
        """
        The timing mark is answered after the replies to the lines before
        it.
        """
        self.assertEqual(self.send(b"PING\r\n\xff\xfd\x06PING\r\n"),
                         b"+PONG\r\n\xff\xfb\x06+PONG\r\n")

    def test_respUntouched(self):
        """
        On a RESP connection (from its first request on) a 255 byte is
        data.
        """
        value = b"\xff\xf4\xff\xfd\x06"
        self.assertEqual(self.send(encodeCommand("SET", "k", value)),
                         b"+OK\r\n")
        self.assertEqual(self.factory.store.get(b"k"), value)
        proto, transport = connect(self.factory, port=2)
        proto.dataReceived(b"PING\r\n" + encodeCommand("GET", "k"))
        self.assertEqual(transport.value(), b"+PONG\r\n$5\r\n%s\r\n"
                         % (value,))


class TrackingTests(SynchronousTestCase):
    """
    The factory's client tracking and limits.
    """

    def test_counts(self):
        """
        countActive and countDropped follow connects and disconnects,
        whatever the cause.
        """
        factory, _ = makeFactory()
        a, ta = connect(factory, port=1)
        b, tb = connect(factory, port=2)
        self.assertEqual((factory.countActive(), factory.countDropped()),
                         (2, 0))
        a.dataReceived(b"quit\n")
        self.assertEqual((factory.countActive(), factory.countDropped()),
                         (1, 1))
        lose(b)
        self.assertEqual((factory.countActive(), factory.countDropped()),
                         (0, 2))

    def test_maxClients(self):
        """
        The client over the limit gets Redis's error and is closed.
        """
        factory, _ = makeFactory(maxClients=2)
        connect(factory, port=1)
        connect(factory, port=2)
        third, transport = connect(factory, port=3)
        self.assertEqual(transport.value(),
                         b"-ERR max number of clients reached\r\n")
        self.assertFalse(transport.connected)
        self.assertEqual(factory.stats.rejected, 1)
        self.assertEqual(factory.countActive(), 2)

    def test_protectedMode(self):
        """
        Without a password, a non-loopback peer is refused with an
        explanation; with --no-protected-mode or a password it may stay.
        """
        factory, _ = makeFactory()
        _, transport = connect(factory, host="10.1.2.3")
        self.assertIn(b"-DENIED", transport.value())
        self.assertIn(b"--requirepass", transport.value())
        self.assertFalse(transport.connected)
        factory, _ = makeFactory(protectedMode=False)
        _, transport = connect(factory, host="10.1.2.3")
        self.assertTrue(transport.connected)
        factory, _ = makeFactory(password=b"pw")
        _, transport = connect(factory, host="10.1.2.3")
        self.assertTrue(transport.connected)
        factory, _ = makeFactory()
        _, transport = connect(factory, host="::1")
        self.assertTrue(transport.connected)


class AuthTests(SynchronousTestCase):
    """
    The password gate.
    """

    def test_noauthThenAuth(self):
        """
        Before AUTH every command but AUTH, QUIT and HELLO is refused; a
        wrong password is refused; the right one lets commands run.
        """
        factory, _ = makeFactory(password=b"s3cret")
        proto, transport = connect(factory)
        proto.dataReceived(b"GET a\n")
        self.assertEqual(transport.value(),
                         b"NOAUTH Authentication required.\r\n")
        transport.clear()
        proto.dataReceived(encodeCommand("AUTH", "wrong"))
        self.assertEqual(transport.value(),
                         b"-WRONGPASS invalid username-password pair or "
                         b"user is disabled.\r\n")
        proto, transport = connect(factory, port=2)
        proto.dataReceived(b"AUTH s3cret\nSET a 1\n")
        self.assertEqual(transport.value(),
                         b"OK\r\nAdded key 'a' with value '1'\r\n")


class BufferingTransport(StringTransportWithDisconnection):
    """
    A string transport that, like a real one, pauses its producer once
    more than C{bufferSize} bytes wait unsent, and resumes it on L{drain}.
    """

    bufferSize = 1024

    def write(self, data):
        StringTransportWithDisconnection.write(self, data)
        if self.producer is not None and len(self.value()) > self.bufferSize:
            self.producer.pauseProducing()

    def drain(self):
        """
        The peer read everything: empty the buffer and resume.
        """
        data = self.value()
        self.clear()
        if self.producer is not None:
            self.producer.resumeProducing()
        return data


def connectBuffering(factory, port=40000):
    """
    Connect a protocol from C{factory} to a L{BufferingTransport}.
    """
    return connect(factory, port=port, transportType=BufferingTransport)


class LimitTests(SynchronousTestCase):
    """
    Backpressure, stalled and idle clients, pre-auth caps.
    """

    def test_backpressure(self):
        """
        Past --max-output-buffer of replies in one go, the rest of the
        pipeline waits unread, and the transport stops reading; once the
        transport drains, the rest runs and nothing is lost.
        """
        factory, clock = makeFactory(maxOutputBuffer=1000)
        factory.store.set(b"big", b"x" * 600)
        proto, transport = connectBuffering(factory)
        proto.dataReceived(encodeCommand("GET", "big") * 5)
        self.assertEqual(transport.value().count(b"$600\r\n"), 2)
        self.assertEqual(transport.producerState, "paused")
        self.assertIsNotNone(proto.stalledSince)
        clock.advance(1)
        self.assertEqual(transport.value().count(b"$600\r\n"), 2)
        got = transport.drain()
        got += transport.drain()
        self.assertEqual(transport.producerState, "producing")
        got += transport.drain()
        self.assertEqual(got.count(b"$600\r\n"), 5)
        self.assertIsNone(proto.stalledSince)

    def test_readWhilePausedWaits(self):
        """
        A read that comes while the transport has paused the connection
        (its buffer full) is not run, even made of whole requests with
        nothing before them in the input; it runs once the transport
        drains, in order.
        """
        factory, clock = makeFactory()
        factory.store.set(b"big", b"x" * 5000)
        proto, transport = connectBuffering(factory)
        proto.dataReceived(encodeCommand("GET", "big"))
        self.assertTrue(proto._writePaused)
        proto.dataReceived(encodeCommand("SET", "k", "v") +
                           encodeCommand("GET", "k"))
        self.assertIsNone(factory.store.get(b"k"))
        got = transport.drain()
        self.assertEqual(factory.store.get(b"k"), b"v")
        got += transport.drain()
        self.assertTrue(got.endswith(b"x\r\n+OK\r\n$1\r\nv\r\n"),
                        got[-40:])

    def test_closeAfterBigReply(self):
        """
        A QUIT after a reply big enough to pause the connection unregisters
        the protocol as producer before closing: a TCP transport that
        drains with a paused producer resumes it rather than closing, and
        the connection would stay open.
        """
        factory, clock = makeFactory()
        factory.store.set(b"big", b"x" * 5000)
        proto, transport = connectBuffering(factory)
        proto.dataReceived(encodeCommand("GET", "big") + encodeCommand("QUIT"))
        self.assertTrue(proto._writePaused)  # the reply filled the buffer
        self.assertIsNone(transport.producer)
        self.assertFalse(transport.connected)
        self.assertTrue(transport.value().endswith(b"\r\n+OK\r\n"))

    def test_stalledClientDropped(self):
        """
        A client that stays stalled past the hard bound is disconnected
        and counted as dropped; other clients stay.
        """
        factory, clock = makeFactory(maxOutputBuffer=100, stallTimeout=30)
        factory.startFactory()
        self.addCleanup(factory.stopFactory)
        factory.store.set(b"big", b"x" * 600)
        slow, slowTransport = connectBuffering(factory, port=1)
        other, otherTransport = connect(factory, port=2)
        slow.dataReceived(encodeCommand("GET", "big") * 3)
        clock.advance(0)
        clock.advance(29)
        self.assertTrue(slowTransport.connected)
        clock.advance(2)
        self.assertFalse(slowTransport.connected)
        self.assertEqual(factory.stats.stalledDisconnects, 1)
        self.assertEqual(factory.countDropped(), 1)
        self.assertTrue(otherTransport.connected)

    def test_idleTimeout(self):
        """
        With --timeout, a client silent that long is closed; activity
        keeps a client open.
        """
        factory, clock = makeFactory(timeout=10)
        factory.startFactory()
        self.addCleanup(factory.stopFactory)
        idle, idleTransport = connect(factory, port=1)
        busy, busyTransport = connect(factory, port=2)
        for _ in range(3):
            clock.advance(4)
            busy.dataReceived(b"PING\r\n")
        self.assertFalse(idleTransport.connected)
        self.assertTrue(busyTransport.connected)

    def test_bytesAreActivity(self):
        """
        With --timeout, any bytes received keep a client open, in every
        dialect: a RESP request uploaded slowly, a text line or a JSON
        line typed a byte at a time, for longer than the timeout.
        """
        factory, clock = makeFactory(timeout=3)
        factory.startFactory()
        self.addCleanup(factory.stopFactory)
        uploads = [
            encodeCommand("SET", "big", "x" * 200),
            b"SET slow typed\r\n",
            b'{"type": "GET", "key": "k"}\n',
        ]
        for upload in uploads:
            proto, transport = connect(factory)
            for i in range(len(upload)):
                clock.advance(1)
                proto.dataReceived(upload[i:i + 1])
                self.assertTrue(transport.connected, (upload, i))
            self.assertNotEqual(transport.value(), b"")
            clock.advance(3)
            self.assertFalse(transport.connected)

    def test_noTimeoutByDefault(self):
        """
        Without --timeout, idle clients stay forever.
        """
        factory, clock = makeFactory()
        factory.startFactory()
        self.addCleanup(factory.stopFactory)
        _, transport = connect(factory)
        clock.pump([100] * 10)
        self.assertTrue(transport.connected)

    def test_preauthCaps(self):
        """
        Before AUTH, a bulk over 16 KiB or more than 10 arguments is a
        protocol error; after AUTH the normal limits apply.
        """
        factory, _ = makeFactory(password=b"pw")
        proto, transport = connect(factory)
        proto.dataReceived(b"*2\r\n$3\r\nSET\r\n$20000\r\n")
        self.assertEqual(transport.value(),
                         b"-ERR Protocol error: invalid bulk length\r\n")
        self.assertFalse(transport.connected)
        proto, transport = connect(factory, port=2)
        proto.dataReceived(encodeCommand("AUTH", "pw") +
                           encodeCommand("SET", "k", "v" * 20000))
        self.assertEqual(transport.value(), b"+OK\r\n+OK\r\n")


class UnterminatedTests(SynchronousTestCase):
    """
    C{--unterminated-ms}, for seed clients that send no line end.
    """

    def test_offByDefault(self):
        """
        Without the option an unterminated line waits for its end.
        """
        factory, clock = makeFactory()
        proto, transport = connect(factory)
        proto.dataReceived(b"SET a 1")
        clock.advance(10)
        self.assertEqual(transport.value(), b"")
        proto.dataReceived(b"\n")
        self.assertEqual(transport.value(), b"Added key 'a' with value '1'\r\n")

    def test_runsAfterDelay(self):
        """
        With the option, a text line left unterminated that long runs as
        if it had ended; more bytes before then restart the wait.
        """
        factory, clock = makeFactory(unterminatedMs=50)
        proto, transport = connect(factory)
        proto.dataReceived(b"SET a ")
        clock.advance(0.04)
        proto.dataReceived(b"1")
        clock.advance(0.04)
        self.assertEqual(transport.value(), b"")
        clock.advance(0.02)
        self.assertEqual(transport.value(), b"Added key 'a' with value '1'\r\n")
        transport.clear()
        proto.dataReceived(b"GET a")
        clock.advance(0.05)
        self.assertEqual(transport.value(), b"1\r\n")

    def test_respNotCut(self):
        """
        A partial RESP request is never run early.
        """
        factory, clock = makeFactory(unterminatedMs=50)
        proto, transport = connect(factory)
        proto.dataReceived(b"*2\r\n$3\r\nGET\r\n$1\r\n")
        clock.advance(1)
        self.assertEqual(transport.value(), b"")
        proto.dataReceived(b"a\r\n")
        self.assertEqual(transport.value(), b"$-1\r\n")


class LargeReplyTests(SynchronousTestCase):
    """
    Large replies (KEYS or PRINT on a big store) are computed and rendered
    through the factory's C{runInThread}, and still come back in request
    order.
    """

    def setUp(self):
        from kvtwist.test.test_store import PendingRunner
        self.factory, self.clock = makeFactory()
        self.runner = PendingRunner()
        self.factory.runInThread = self.runner
        self.factory.backend.runInThread = self.runner
        self.factory.backend.OFFLOAD_KEYS = 10
        self.patch(replyqueue, "LARGE_REPLY", 10)
        for i in range(20):
            self.factory.store.set(b"key%02d" % (i,), b"v")
        self.proto, self.transport = connect(self.factory)

    def settle(self) -> int:
        """
        Run what the runner holds and the clock's zero-delay calls until
        neither has anything left.

        @return: the most calls the runner held at once.
        """
        most = 0
        for _ in range(1000):
            most = max(most, len(self.runner.calls))
            if self.runner.calls:
                self.runner.runAll()
            elif self.clock.getDelayedCalls():
                self.clock.advance(0)
            else:
                return most
        self.fail("never settled")

    def test_keysInOrder(self):
        """
        A KEYS reply on a big store waits for the runner (once to list,
        once to render if large); the client's next requests wait unread
        meanwhile, so one listing is in the runner at a time, and every
        reply comes back in request order.
        """
        self.proto.dataReceived(encodeCommand("KEYS", "key1*") +
                                encodeCommand("KEYS", "*") +
                                encodeCommand("PING"))
        self.assertEqual(self.transport.value(), b"")
        self.assertEqual(len(self.runner.calls), 1)
        self.runner.runAll()  # the first listing; small: rendered at once
        self.assertTrue(self.transport.value().startswith(b"*10\r\n"))
        self.clock.advance(0)  # reading resumes: the second KEYS runs
        self.assertEqual(len(self.runner.calls), 1)
        self.runner.runAll()  # the listing; large: rendered in the runner
        self.assertEqual(len(self.runner.calls), 1)
        self.assertNotIn(b"PONG", self.transport.value())
        self.settle()
        value = self.transport.value()
        self.assertTrue(value.endswith(b"\r\n+PONG\r\n"))
        self.assertIn(b"*20\r\n", value)
        self.assertEqual(self.proto.replies.heavy, 0)

    def test_pipelineOfHeavyReplies(self):
        """
        A hundred KEYS * in one packet don't take a hundred snapshots at
        once: each runs once the one before it is rendered.
        """
        self.proto.dataReceived(encodeCommand("KEYS", "*") * 100 +
                                encodeCommand("PING"))
        self.assertEqual(self.settle(), 1)
        value = self.transport.value()
        self.assertEqual(value.count(b"*20\r\n"), 100)
        self.assertTrue(value.endswith(b"+PONG\r\n"))

    def test_protocolVersionOfTheRequest(self):
        """
        A deferred reply is rendered in the protocol version in force when
        its request ran, not one a later HELLO switched to.
        """
        self.proto.dataReceived(encodeCommand("PRINT") +
                                encodeCommand("HELLO", "3"))
        self.settle()
        self.assertTrue(self.transport.value().startswith(b"*40\r\n"))
        self.assertIn(b"%8\r\n", self.transport.value())  # HELLO, in RESP3

    def test_printText(self):
        """
        PRINT in the text protocol: the whole block, rendered elsewhere.
        """
        self.proto.dataReceived(b"PRINT\r\nGET key00\r\n")
        self.settle()
        lines = self.transport.value().split(b"\r\n")
        self.assertIn(b"key19: v", lines)
        self.assertEqual(lines[-3:], [b".", b"v", b""])

    def test_largeListInline(self):
        """
        A large list reply that is not a Deferred (LRANGE) is rendered
        through the runner too.
        """
        self.factory.store.push(b"l", [b"x"] * 30)
        self.proto.dataReceived(encodeCommand("LRANGE", "l", "0", "-1") +
                                encodeCommand("PING"))
        self.assertEqual(self.transport.value(), b"")
        self.settle()
        self.assertEqual(self.transport.value(),
                         b"*30\r\n" + b"$1\r\nx\r\n" * 30 + b"+PONG\r\n")

    def test_renderFailure(self):
        """
        A reply that fails to render answers an error and is logged; the
        connection goes on.
        """
        def broken(f, *args):
            from twisted.internet.defer import fail
            return fail(RuntimeError("boom"))
        self.factory.runInThread = broken
        self.proto, self.transport = connect(self.factory)
        self.proto.dataReceived(encodeCommand("KEYS", "*") +
                                encodeCommand("PING"))
        self.settle()
        self.assertEqual(self.transport.value(),
                         b"-ERR internal error\r\n+PONG\r\n")
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_abortDiscardsLateReplies(self):
        """
        After abort(), a reply that arrives late is not sent.
        """
        class AbortLater(SocketTransport):
            # As TCP: the connection is lost on a later turn.
            def abortConnection(self):
                self.aborting = True

        self.patch(kvtransport, "canSendDirectly", lambda transport: True)
        proto, transport = connect(self.factory, transportType=AbortLater)
        proto.dataReceived(encodeCommand("KEYS", "*"))
        proto.abort("test")
        self.settle()
        self.assertEqual(transport.socket.sent, [])
        self.assertEqual(transport.value(), b"")


class BigBulkStorageTests(SynchronousTestCase):
    """
    A big bulk string received into a buffer that can fill its value's
    L{bytes} object in place (PyPy's): the protocol makes that object
    through the factory's C{runInThread} and reads nothing meanwhile.
    """

    def setUp(self):
        from kvtwist.protocol import bulk, framing
        from kvtwist.test.test_store import PendingRunner
        if bulk._ffi is None:
            raise SkipTest("no cffi: the buffer copies at the end")
        self.bulk = bulk
        self.patch(framing, "BulkBuffer", bulk.BulkBufferPython)
        self.factory, self.clock = makeFactory()
        self.runner = PendingRunner()
        self.factory.runInThread = self.runner
        self.proto, self.transport = connect(self.factory)
        self.value = bytes(range(256)) * (bulk.ADOPT_MIN // 256)
        self.wire = encodeCommand("SET", "big", self.value)

    def test_storageMadeInThread(self):
        """
        Reading stops while the runner makes the storage, and goes on once
        it is made; the value stored is that very object.
        """
        self.proto.dataReceived(self.wire[:50000])
        [(f, args, d)] = self.runner.calls
        self.assertEqual((f, args), (self.bulk.allocate, (len(self.value),)))
        self.assertEqual(self.transport.producerState, "paused")
        storage = f(*args)
        self.runner.calls = []
        d.callback(storage)
        self.assertEqual(self.transport.producerState, "producing")
        self.proto.dataReceived(self.wire[50000:])
        self.assertEqual(self.transport.value(), b"+OK\r\n")
        self.assertIs(self.factory.store.get(b"big"), storage)
        self.assertEqual(storage, self.value)
        self.assertEqual(self.runner.calls, [])

    def test_storageFailed(self):
        """
        If the storage can't be made, the value is received as before.
        """
        self.proto.dataReceived(self.wire[:50000])
        [(f, args, d)] = self.runner.calls
        d.errback(MemoryError())
        self.assertEqual(len(self.flushLoggedErrors(MemoryError)), 1)
        self.assertEqual(self.transport.producerState, "producing")
        self.proto.dataReceived(self.wire[50000:])
        self.assertEqual(self.transport.value(), b"+OK\r\n")
        self.assertEqual(self.factory.store.get(b"big"), self.value)

    def test_storageAfterClose(self):
        """
        Storage made after the client went away is dropped: the value
        received so far is gone with the connection.
        """
        self.proto.dataReceived(self.wire[:50000])
        [(f, args, d)] = self.runner.calls
        bulk = self.proto.framer.receivingBulk()
        lose(self.proto)
        d.callback(f(*args))
        self.assertIsNone(self.proto.framer.receivingBulk())
        self.assertFalse(bulk.wantsStorage())
        self.assertRaises(ValueError, bulk.value)


class FakeSocket:
    """
    The socket of a L{SocketTransport}: records what it is sent, taking at
    most C{room} bytes per call (all if L{None}).
    """

    def __init__(self):
        self.sent = []
        self.room = None

    def send(self, data):
        taken = data if self.room is None else data[:self.room]
        self.sent.append(taken)
        return len(taken)


class SocketTransport(BufferingTransport):
    """
    A buffering transport with the parts of a TCP transport that replies
    sent straight to the socket look at; what goes through C{write} is in
    C{value()} as usual.
    """

    def __init__(self, *args, **kwargs):
        BufferingTransport.__init__(self, *args, **kwargs)
        self.socket = FakeSocket()
        self._tempDataBuffer = []
        self.dataBuffer = b""
        self.offset = 0


class EndOfTurnSendTests(SynchronousTestCase):
    """
    On TCP and UNIX connections replies are held until the end of the
    reactor turn, then sent in one piece per client, straight to the
    socket when the transport has nothing queued.
    """

    def setUp(self):
        self.patch(kvtransport, "canSendDirectly", lambda transport: True)
        self.factory, self.clock = makeFactory()

    def connect(self):
        return connect(self.factory, transportType=SocketTransport)

    def test_heldToEndOfTurn(self):
        """
        Replies to several reads in one turn leave in one send once the
        turn ends (the clock's zero-delay call), not before.
        """
        proto, transport = self.connect()
        proto.dataReceived(encodeCommand("SET", "k", "v"))
        proto.dataReceived(encodeCommand("GET", "k"))
        self.assertEqual(transport.socket.sent, [])
        self.clock.advance(0)
        self.assertEqual(transport.socket.sent, [b"+OK\r\n$1\r\nv\r\n"])
        self.assertEqual(transport.value(), b"")
        self.assertEqual(self.factory.stats.netOutput, 12)

    def test_clientsInOneCall(self):
        """
        Every client with replies is sent to by one call at the end of the
        turn, each its own replies.
        """
        one, t1 = self.connect()
        two, t2 = self.connect()
        one.dataReceived(encodeCommand("PING"))
        two.dataReceived(encodeCommand("ECHO", "x"))
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.clock.advance(0)
        self.assertEqual(t1.socket.sent, [b"+PONG\r\n"])
        self.assertEqual(t2.socket.sent, [b"$1\r\nx\r\n"])

    def test_partialSend(self):
        """
        What the socket doesn't take goes to the transport's buffer, in
        order.
        """
        proto, transport = self.connect()
        transport.socket.room = 3
        proto.dataReceived(encodeCommand("PING") + encodeCommand("PING"))
        self.clock.advance(0)
        self.assertEqual(transport.socket.sent, [b"+PO"])
        self.assertEqual(transport.value(), b"NG\r\n+PONG\r\n")

    def test_transportBusy(self):
        """
        While the transport still has data queued, replies go behind it
        through the transport, never around it.
        """
        proto, transport = self.connect()
        transport.dataBuffer = b"earlier"
        proto.dataReceived(encodeCommand("PING"))
        self.clock.advance(0)
        self.assertEqual(transport.socket.sent, [])
        self.assertEqual(transport.value(), b"+PONG\r\n")

    def test_sentBeforeClose(self):
        """
        A reply owed before a close (QUIT) is sent before the connection
        is closed, without waiting for the end of the turn.
        """
        proto, transport = self.connect()
        proto.dataReceived(encodeCommand("PING") + encodeCommand("QUIT"))
        self.assertEqual(transport.socket.sent, [b"+PONG\r\n+OK\r\n"])
        self.assertFalse(transport.connected)
        self.clock.advance(0)
        self.assertEqual(transport.socket.sent, [b"+PONG\r\n+OK\r\n"])

    def test_lostBeforeEndOfTurn(self):
        """
        A connection lost before the turn ends sends nothing more.
        """
        proto, transport = self.connect()
        proto.dataReceived(encodeCommand("PING"))
        transport.loseConnection()
        self.clock.advance(0)
        self.assertEqual(transport.socket.sent, [])

    def test_backpressureWithHeldReplies(self):
        """
        A client that reads nothing while pipelining big replies is paused
        once the held replies fill the transport, whatever the order of the
        end-of-turn calls; memory stays bounded over many turns, and once
        it reads, every reply arrives, in order.
        """
        self.factory.config.maxOutputBuffer = 4096
        self.factory.store.set(b"big", b"x" * 1000)
        proto, transport = self.connect()
        transport.socket.room = 0  # the peer reads nothing
        count = 200
        proto.dataReceived(encodeCommand("GET", "big") * count)
        for _ in range(20):
            self.clock.advance(0)
        self.assertLess(len(transport.value()), 4096 + 1024 + 1100)
        self.assertTrue(proto._writePaused)
        got = b""
        for _ in range(1000):
            got += transport.drain()
            self.clock.advance(0)
            if len(got) >= count * 1009:  # len(reply)
                break
        reply = b"$1000\r\n" + b"x" * 1000 + b"\r\n"
        self.assertEqual(got, reply * count)


class _RecordingSocket:
    """
    A socket that records the options set on it.
    """

    def __init__(self):
        self.options = {}

    def setsockopt(self, level, option, value):
        self.options[(level, option)] = value


class TCPTransport(StringTransportWithDisconnection):
    """
    A string transport with the TCP option calls of L{ITCPTransport},
    recorded.
    """

    def __init__(self, *args, **kwargs):
        StringTransportWithDisconnection.__init__(self, *args, **kwargs)
        self.noDelay = self.keepAlive = False
        self.handle = _RecordingSocket()

    def setTcpNoDelay(self, enabled):
        self.noDelay = enabled

    def setTcpKeepAlive(self, enabled):
        self.keepAlive = enabled

    def getHandle(self):
        return self.handle


class UNIXLikeTransport(TCPTransport):
    """
    A transport whose socket refuses TCP options, as a UNIX socket's does.
    """

    def setTcpNoDelay(self, enabled):
        raise OSError(95, "Operation not supported")


class TCPTuningTests(SynchronousTestCase):
    """
    Client connections get the TCP options Redis sets.
    """

    def test_noDelayAndKeepAlive(self):
        """
        C{TCP_NODELAY} and keepalive probes after
        L{kvtransport.KEEPALIVE} seconds, then every third of that, 3 of
        them, where the platform names those options.
        """
        import socket
        factory, _ = makeFactory()
        proto, transport = connect(factory, transportType=TCPTransport)
        self.assertTrue(transport.noDelay)
        self.assertTrue(transport.keepAlive)
        expected = {}
        for name, value in (("TCP_KEEPIDLE", kvtransport.KEEPALIVE),
                            ("TCP_KEEPINTVL", kvtransport.KEEPALIVE // 3),
                            ("TCP_KEEPCNT", 3)):
            if hasattr(socket, name):
                expected[(socket.IPPROTO_TCP, getattr(socket, name))] = value
        self.assertEqual(transport.handle.options, expected)
        proto.dataReceived(b"PING\r\n")
        self.assertEqual(transport.value(), b"+PONG\r\n")

    def test_otherTransportsWork(self):
        """
        A transport without TCP options, or whose socket refuses them,
        serves all the same.
        """
        factory, _ = makeFactory()
        for kind in (StringTransportWithDisconnection, UNIXLikeTransport):
            proto, transport = connect(factory, transportType=kind)
            proto.dataReceived(b"PING\r\n")
            self.assertEqual(transport.value(), b"+PONG\r\n", kind)
