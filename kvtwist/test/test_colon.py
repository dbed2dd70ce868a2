"""
Tests for L{kvtwist.dialects.colon}, the Go seed's colon protocol.
"""

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from kvtwist import dialects
from kvtwist.dialects import colon
from kvtwist.replies import NOAUTH, WRONGTYPE, Error
from kvtwist.factory import Config, KVFactory
from kvtwist.store import Store


def connect(factory):
    """
    Connect a new L{kvtwist.protocol.KVProtocol} of C{factory} to a
    L{StringTransport} with a loopback peer.

    @return: C{(protocol, transport)}.
    """
    peer = IPv4Address("TCP", "127.0.0.1", 1234)
    proto = factory.buildProtocol(peer)
    transport = StringTransport(peerAddress=peer)
    proto.makeConnection(transport)
    return proto, transport


def makeFactory(password=None):
    """
    A L{KVFactory} on a fresh store and a L{Clock}.
    """
    return KVFactory(Store(clock=lambda: 0.0), None,
                     Config(password=password), clock=Clock())


class CaptureLog:
    """
    Mixin: collect the log events of colon refusals (logged by the
    connection, L{colon.unanswered}'s text in their C{refusal}) in
    C{self.events}.
    """

    def captureLog(self):
        """
        Start collecting the events of refusals.
        """
        self.events = []

        def observe(event):
            if "refusal" in event:
                self.events.append(event)

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)


class MatchesTests(SynchronousTestCase):
    """
    Tests for L{colon.matches} and detection through L{dialects.detect}.
    """

    def test_verbsAnyCase(self):
        """
        The four verbs followed by C{:} match in any case.
        """
        for line in [b"Put:k:v", b"PUT:k:v", b"put:k:v", b"pUt:k:v",
                     b"Get:k", b"GET:k", b"Update:k:a:b", b"UPDATE:k:a:b",
                     b"Delete:k", b"delete:k"]:
            self.assertTrue(colon.matches(line), line)
            self.assertIs(dialects.detect(line), colon)

    def test_notColon(self):
        """
        Text commands, verbs without a colon and other verbs do not match;
        they go to the text dialect.
        """
        for line in [b"GET k", b"Put", b"Get", b"Putx:k", b"PRINT",
                     b"Dele:k", b"DEL k", b"Update k a b", b""]:
            self.assertFalse(colon.matches(line), line)
            self.assertIsNot(dialects.detect(line), colon)


class ParseTests(SynchronousTestCase):
    """
    Tests for L{colon.parse}.
    """

    def test_put(self):
        """
        C{Put:key:value} is C{RPUSH key value}.
        """
        request = colon.parse(b"Put:k:v")
        self.assertEqual((request.name, request.args), (b"RPUSH", [b"k", b"v"]))

    def test_putValueWithColons(self):
        """
        A value may contain colons: the line is split twice at most.
        """
        request = colon.parse(b"PUT:k:a:b::c")
        self.assertEqual(request.args, [b"k", b"a:b::c"])

    def test_putEmptyValue(self):
        """
        An empty value is a value.
        """
        self.assertEqual(colon.parse(b"Put:k:").args, [b"k", b""])

    def test_get(self):
        """
        C{Get:key} is C{LRANGE key 0 -1}.
        """
        request = colon.parse(b"get:k")
        self.assertEqual((request.name, request.args),
                         (b"LRANGE", [b"k", b"0", b"-1"]))
        self.assertEqual(request.verb, b"get")

    def test_getKeyIsRestOfLine(self):
        """
        The key of C{Get} is the rest of the line.
        """
        self.assertEqual(colon.parse(b"Get:a:b").key, b"a:b")

    def test_update(self):
        """
        C{Update:key:old:new} is C{LREPLACE key old new}.
        """
        request = colon.parse(b"Update:k:old:new")
        self.assertEqual((request.name, request.args),
                         (b"LREPLACE", [b"k", b"old", b"new"]))

    def test_updateNewWithColons(self):
        """
        C{old} is one field; C{new} is the rest of the line.
        """
        self.assertEqual(colon.parse(b"UPDATE:k:a:b:c").args,
                         [b"k", b"a", b"b:c"])

    def test_delete(self):
        """
        C{Delete:key} is C{DEL key}.
        """
        request = colon.parse(b"DELETE:k")
        self.assertEqual((request.name, request.args), (b"DEL", [b"k"]))

    def test_malformed(self):
        """
        A line with too few fields is an L{Error}.
        """
        for line in [b"Put:k", b"Update:k:a", b"Update:k", b"Nope:k"]:
            self.assertIsInstance(colon.parse(line), Error, line)


class RenderTests(CaptureLog, SynchronousTestCase):
    """
    Tests for L{colon.render}.
    """

    def setUp(self):
        """
        Collect log events.
        """
        self.captureLog()

    def test_getLines(self):
        """
        A C{Get} reply is one C{key:value} line per value, in order,
        ending with C{\\n}.
        """
        request = colon.parse(b"Get:k")
        self.assertEqual(colon.render(request, [b"a", b"b:c"]),
                         b"k:a\nk:b:c\n")

    def test_getNothing(self):
        """
        A C{Get} of no values sends nothing.
        """
        self.assertEqual(colon.render(colon.parse(b"Get:k"), []), b"")

    def test_getShowsLineEnds(self):
        """
        CR and LF in a value are shown escaped, keeping one line per value.
        """
        self.assertEqual(colon.render(colon.parse(b"Get:k"), [b"a\r\nb"]),
                         b"k:a\\r\\nb\n")

    def test_writesSendNothing(self):
        """
        C{Put}, C{Update} and C{Delete} send no reply.
        """
        for line, reply in [(b"Put:k:v", 1), (b"Update:k:a:b", 2),
                            (b"Delete:k", 1), (b"Delete:k", 0)]:
            self.assertEqual(colon.render(colon.parse(line), reply), b"")
        self.assertEqual(self.events, [])

    def test_errorUnanswered(self):
        """
        An error reply sends nothing (and logs nothing itself); what to
        log names the verb, the key and the error.
        """
        request = colon.parse(b"Put:k:v")
        self.assertEqual(colon.render(request, WRONGTYPE), b"")
        self.assertEqual(self.events, [])
        self.assertEqual(colon.unanswered(request, WRONGTYPE),
                         "colon protocol: put on key b'k' refused: %s"
                         % (WRONGTYPE,))

    def test_parseErrorUnanswered(self):
        """
        A malformed line sends nothing; what to log shows the error.
        """
        error = colon.parse(b"Put:k")
        self.assertEqual(colon.render(None, error), b"")
        self.assertEqual(colon.unanswered(None, error),
                         "colon protocol: refused line: %s" % (error,))


class ProtocolTests(CaptureLog, SynchronousTestCase):
    """
    The colon protocol through L{kvtwist.protocol.KVProtocol}.
    """

    def setUp(self):
        """
        A connected protocol on a fresh store.
        """
        self.captureLog()
        self.factory = makeFactory()
        self.proto, self.transport = connect(self.factory)

    def send(self, data):
        """
        Feed C{data}, return what was written since the last call.
        """
        self.transport.clear()
        self.proto.dataReceived(data)
        return self.transport.value()

    def test_seedSession(self):
        """
        Put, Get, Update, Get, Delete, Get behave as in the Go seed.
        """
        self.assertEqual(self.send(b"Put:k:v1\nPut:k:v2\nPUT:k:v1\n"), b"")
        self.assertEqual(self.send(b"Get:k\n"), b"k:v1\nk:v2\nk:v1\n")
        self.assertEqual(self.send(b"Update:k:v1:x\n"), b"")
        self.assertEqual(self.send(b"get:k\n"), b"k:x\nk:v2\nk:x\n")
        self.assertEqual(self.send(b"Delete:k\n"), b"")
        self.assertEqual(self.send(b"Get:k\n"), b"")
        self.assertFalse(self.transport.disconnecting)

    def test_crlf(self):
        """
        A CR before the LF is not part of the value.
        """
        self.send(b"Put:k:v\r\n")
        self.assertEqual(self.send(b"Get:k\r\n"), b"k:v\n")

    def test_valueWithColons(self):
        """
        Values with colons are put, read and updated into.
        """
        self.send(b"Put:k:a:b\nPut:k:c\nUpdate:k:c:d:e\n")
        self.assertEqual(self.send(b"Get:k\n"), b"k:a:b\nk:d:e\n")

    def test_listInStore(self):
        """
        Colon keys are lists in the shared store: RESP's LRANGE and the
        text protocol see them.
        """
        self.send(b"Put:k:a\nPut:k:b\n")
        self.assertEqual(self.factory.store.lrange(b"k", 0, -1), [b"a", b"b"])
        self.assertEqual(
            self.send(b"*4\r\n$6\r\nLRANGE\r\n$1\r\nk\r\n$1\r\n0\r\n"
                      b"$2\r\n-1\r\n"),
            b"*2\r\n$1\r\na\r\n$1\r\nb\r\n")

    def test_wrongTypeRefusedAndLogged(self):
        """
        A colon write or read on a string key sends nothing, changes
        nothing, and is logged; the connection goes on.
        """
        self.factory.store.set(b"s", b"text")
        self.assertEqual(self.send(b"Put:s:v\nGet:s\nUpdate:s:a:b\n"), b"")
        self.assertEqual(self.factory.store.get(b"s"), b"text")
        self.assertEqual([e["refusal"].rsplit(": ", 1)[1]
                          for e in self.events], [str(WRONGTYPE)] * 3)
        self.assertEqual(self.send(b"Put:l:v\nGet:l\n"), b"l:v\n")

    def test_malformedLogged(self):
        """
        A malformed colon line sends nothing and is logged; the connection
        goes on.
        """
        self.assertEqual(self.send(b"Update:k:only\n"), b"")
        self.assertEqual(len(self.events), 1)
        self.assertEqual(self.send(b"Put:k:v\nGet:k\n"), b"k:v\n")

    def test_floodLimited(self):
        """
        A client sending bad colon lines by the thousand gets the first
        five logged, then a count of the rest when it goes (100,000 of
        them once wrote 15 MB of warnings).
        """
        events = []

        def observe(event):
            if event.get("client") == self.proto.state.id:
                events.append(event)
        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        self.send(b"Update:k:only\n" * 1000)
        self.assertEqual(len(events), 5)
        self.assertIn("more colon refusals will be counted, not logged",
                      formatEvent(events[-1]))
        self.proto.connectionLost(None)
        self.assertEqual(len(events), 6)
        self.assertEqual(events[-1]["count"], 995)
        self.assertEqual(formatEvent(events[-1]),
                         "client %d (127.0.0.1:1234): 995 more colon "
                         "refusals in the last 0s" % (self.proto.state.id,))

    def test_floodCountedEveryMinute(self):
        """
        While refusals keep coming, their count is logged once a minute.
        """
        counts = []

        def observe(event):
            if "count" in event and event.get("kind") == "colon refusals":
                counts.append(event["count"])
        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        clock = self.factory.clock
        self.send(b"Put:k\n" * 10)
        clock.advance(59)
        self.send(b"Put:k\n")
        self.assertEqual(counts, [])
        clock.advance(1)
        self.send(b"Put:k\n")
        self.assertEqual(counts, [7])

    def test_noAuthRefused(self):
        """
        With a password set, colon lines are refused (the protocol cannot
        authenticate): nothing is stored, nothing sent, each is logged.
        """
        factory = makeFactory(password=b"secret")
        proto, transport = connect(factory)
        proto.dataReceived(b"Put:k:v\nGet:k\n")
        self.assertEqual(transport.value(), b"")
        self.assertFalse(factory.store.exists(b"k"))
        self.assertEqual([e["refusal"].split(" refused: ", 1)[1]
                          for e in self.events], [str(NOAUTH)] * 2)

    def test_afterTextAuth(self):
        """
        A connection that authenticated in the text protocol may use the
        colon protocol.
        """
        factory = makeFactory(password=b"secret")
        proto, transport = connect(factory)
        proto.dataReceived(b"AUTH secret\n")
        transport.clear()
        proto.dataReceived(b"Put:k:v\nGet:k\n")
        self.assertEqual(transport.value(), b"k:v\n")
