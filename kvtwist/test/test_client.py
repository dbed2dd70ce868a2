"""
Tests for L{kvtwist.client}: quoting, reply framing, the protocol and the
API, driven by hand over L{StringTransport}, with no sockets.
"""

import os

from twisted.internet.defer import fail, succeed
from twisted.internet.error import (ConnectionDone, ConnectionLost,
                                    ConnectionRefusedError)
from twisted.internet.testing import (MemoryReactorClock, StringTransport,
                                      StringTransportWithDisconnection)
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

import twisted.test
from kvtwist import client
from kvtwist.client import (AuthenticationError, CommandRefused,
                            ConnectionClosed, CouldNotConnect, KVClient,
                            KVClientError, KVClientProtocol, ReplyError)
from kvtwist.dialects import text


def connected(disconnecting=False):
    """
    A L{KVClientProtocol} and L{KVClient} over a fresh transport.

    @param disconnecting: use a transport whose C{loseConnection} calls
        C{connectionLost} at once.
    """
    proto = KVClientProtocol()
    if disconnecting:
        transport = StringTransportWithDisconnection()
        transport.protocol = proto
    else:
        transport = StringTransport()
    proto.makeConnection(transport)
    return proto, KVClient(proto), transport


class FakeEndpoint:
    """
    A client endpoint that connects to a L{StringTransport} at once, or
    fails with a given failure.

    @ivar protocol: the protocol it built.
    @ivar transport: its transport.
    """

    def __init__(self, failure=None):
        self.failure = failure
        self.protocol = None
        self.transport = None

    def connect(self, factory):
        """
        Build and connect a protocol, or fail.
        """
        if self.failure is not None:
            return fail(self.failure)
        self.protocol = factory.buildProtocol(None)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)
        return succeed(self.protocol)


class QuotingTests(SynchronousTestCase):
    """
    Tests for L{client.quoteWord} and L{client.encodeCommand}.
    """

    def test_plainWordUnquoted(self):
        """
        A word with nothing special in it is sent as it is.
        """
        self.assertEqual(client.quoteWord("mykey"), b"mykey")
        self.assertEqual(client.quoteWord(b"a:b-c"), b"a:b-c")
        self.assertEqual(client.quoteWord(42), b"42")

    def test_specialWordsQuoted(self):
        """
        Empty words and words holding spaces, quotes, backslashes or control
        characters are double-quoted with backslash escapes.
        """
        self.assertEqual(client.quoteWord(""), b'""')
        self.assertEqual(client.quoteWord("a b"), b'"a b"')
        self.assertEqual(client.quoteWord('say "hi"'), b'"say \\"hi\\""')
        self.assertEqual(client.quoteWord("it's"), b'"it\'s"')
        self.assertEqual(client.quoteWord("a\\b"), b'"a\\\\b"')
        self.assertEqual(client.quoteWord("l1\nl2\r\t"), b'"l1\\nl2\\r\\t"')
        self.assertEqual(client.quoteWord(b"\x00\x7f"), b'"\\x00\\x7f"')

    def test_nonAsciiKeptRaw(self):
        """
        Non-ASCII text is sent as UTF-8, unquoted.
        """
        self.assertEqual(client.quoteWord("h\u00e9llo"),
                         "h\u00e9llo".encode("utf-8"))

    def test_roundTripThroughServerParser(self):
        """
        Whatever the key and value, the server's text parser reads back
        exactly the words the client quoted, SET's value included.
        """
        awkward = [
            b"plain", b"two words", b"  lead and trail  ", b"", b'q"uote',
            b"it's", b"back\\slash", b"line\nbreak", b"cr\r\n", b"tab\there",
            b"\x00\x01\x1f\x7f", "caf\u00e9".encode("utf-8"), b"'single'",
            b'"', b"\\x41", b"*star", b"{brace}",
        ]
        for key in awkward:
            for value in awkward:
                request = text.parse(client.encodeCommand(b"SET", key, value))
                self.assertEqual((request.name, request.args[:2]),
                                 (b"SET", [key, value]), (key, value))
            request = text.parse(client.encodeCommand(b"GET", key))
            self.assertEqual(request.args, [key])

    def test_firstWordCannotSwitchDialect(self):
        """
        A first word that would make the server pick RESP or JSON lines is
        quoted, so the line stays in the text protocol.
        """
        for word in ("*3", "{x}"):
            line = client.encodeCommand(word, "a")
            self.assertEqual(line[:1], b'"')
            self.assertEqual(text.parse(line).word,
                             word.upper().encode("ascii"))

    def test_noWords(self):
        """
        A command needs at least one word.
        """
        self.assertRaises(CommandRefused, client.encodeCommand)

    def test_badWordType(self):
        """
        Words are text, bytes or numbers.
        """
        self.assertRaises(TypeError, client.quoteWord, None)


class ShapeTests(SynchronousTestCase):
    """
    Tests for L{client.replyShape}, L{client.isErrorReply} and
    L{client.isQuitCommand}.
    """

    def test_blockCommands(self):
        """
        The commands in L{text.BLOCK_COMMANDS} get blocks, in any case.
        """
        for line in (b"PRINT", b"print", b"KEYS *", b"INFO", b"MGET a b"):
            self.assertEqual(client.replyShape(line), client.BLOCK, line)

    def test_lineCommands(self):
        """
        Other commands, aliases included, get one line.
        """
        for line in (b"GET a", b"SET a b c", b"REMOVE a", b"quit",
                     b"NOSUCH x", b'{"type": "GET", "key": "a"}'):
            self.assertEqual(client.replyShape(line), client.LINE, line)

    def test_unparseableLineGetsOneLine(self):
        """
        A line with unbalanced quotes gets a one-line error from the
        server, even for a block command.
        """
        self.assertEqual(client.replyShape(b'PRINT "x'), client.LINE)

    def test_blankLine(self):
        """
        The server answers nothing to a blank line.
        """
        self.assertEqual(client.replyShape(b"   "), client.NO_REPLY)

    def test_refused(self):
        """
        Line breaks and RESP requests are refused.
        """
        for line in (b"GET a\nGET b", b"GET a\r", b"*1", b"*1\r\n$4\r\nPING"):
            self.assertRaises(CommandRefused, client.replyShape, line)

    def test_isErrorReply(self):
        """
        Lines starting with a Redis error code are errors, and so is a
        block holding only one; other replies are not.
        """
        for reply in ("ERR unknown command 'X'", "WRONGTYPE Operation",
                      "NOAUTH Authentication required.", "WRONGPASS x",
                      "-ERR max number of clients reached", "MISCONF x",
                      ["NOAUTH Authentication required."], b"ERR x", "ERR"):
            self.assertTrue(client.isErrorReply(reply), reply)
        for reply in ("OK", "hello", "Key 'a' not found.", "ERRATA",
                      "Added key 'ERR' with value 'x'", [], ["a", "b"],
                      ["ERR x", "ERR y"], None):
            self.assertFalse(client.isErrorReply(reply), reply)

    def test_isQuitCommand(self):
        """
        C{QUIT} and C{EXIT}, any case, are quit commands.
        """
        self.assertTrue(client.isQuitCommand(b"quit"))
        self.assertTrue(client.isQuitCommand(b"  EXIT "))
        self.assertFalse(client.isQuitCommand(b"GET quit"))
        self.assertFalse(client.isQuitCommand(b""))


class ProtocolTests(SynchronousTestCase):
    """
    Tests for L{KVClientProtocol}.
    """

    def test_sendLine(self):
        """
        A request goes out with CRLF; its one-line reply fires its Deferred
        as bytes, the line end stripped.
        """
        proto, _, transport = connected()
        d = proto.sendLine(b"GET a")
        self.assertEqual(transport.value(), b"GET a\r\n")
        self.assertNoResult(d)
        proto.dataReceived(b"hello world\r\n")
        self.assertEqual(self.successResultOf(d), b"hello world")

    def test_bareLineFeed(self):
        """
        Replies ending in a bare LF are read too.
        """
        proto, _, _ = connected()
        d = proto.sendLine(b"GET a")
        proto.dataReceived(b"v\n")
        self.assertEqual(self.successResultOf(d), b"v")

    def test_blockFraming(self):
        """
        A block command's reply is every line up to the lone C{.}, with one
        leading dot removed from stuffed lines.
        """
        proto, _, _ = connected()
        d = proto.sendLine(b"PRINT")
        proto.dataReceived(b"a: 1\r\n..hidden: 2\r\n")
        self.assertNoResult(d)
        proto.dataReceived(b"...\r\n.\r\n")
        self.assertEqual(self.successResultOf(d),
                         [b"a: 1", b".hidden: 2", b".."])

    def test_errorInsteadOfBlock(self):
        """
        A block command answered by an error gets that one line (the
        server sends no block), and the next reply is framed as its own; a
        first line that only looks like an error comes dot-stuffed.
        """
        proto, _, _ = connected()
        first = proto.sendLine(b"MGET")
        second = proto.sendLine(b"MGET a b")
        third = proto.sendLine(b"GET a")
        proto.dataReceived(
            b"ERR wrong number of arguments for 'mget' command\r\n"
            b".ERR boom\r\nERR bang\r\n.\r\nv\r\n")
        self.assertEqual(self.successResultOf(first), [
            b"ERR wrong number of arguments for 'mget' command"])
        self.assertEqual(self.successResultOf(second),
                         [b"ERR boom", b"ERR bang"])
        self.assertEqual(self.successResultOf(third), b"v")

    def test_emptyBlock(self):
        """
        A block with no lines is an empty list.
        """
        proto, _, _ = connected()
        d = proto.sendLine(b"KEYS nothing*")
        proto.dataReceived(b".\r\n")
        self.assertEqual(self.successResultOf(d), [])

    def test_byteByByte(self):
        """
        Replies split anywhere, even inside CRLF, are reassembled.
        """
        proto, _, _ = connected()
        d1 = proto.sendLine(b"PRINT")
        d2 = proto.sendLine(b"GET a")
        for i in range(len(b"x: y\r\n.\r\nvalue\r\n")):
            proto.dataReceived(b"x: y\r\n.\r\nvalue\r\n"[i:i + 1])
        self.assertEqual(self.successResultOf(d1), [b"x: y"])
        self.assertEqual(self.successResultOf(d2), b"value")

    def test_pipelinedOrder(self):
        """
        Pipelined requests get their replies in order, whatever the mix of
        single lines and blocks, even when they all arrive in one chunk.
        """
        proto, _, transport = connected()
        ds = [proto.sendLine(b"GET a"), proto.sendLine(b"PRINT"),
              proto.sendLine(b"SET b x"), proto.sendLine(b"KEYS *")]
        self.assertEqual(transport.value(),
                         b"GET a\r\nPRINT\r\nSET b x\r\nKEYS *\r\n")
        proto.dataReceived(b"1\r\na: 1\r\n.\r\nAdded key 'b' with value "
                           b"'x'\r\na\r\nb\r\n.\r\n")
        self.assertEqual([self.successResultOf(d) for d in ds], [
            b"1", [b"a: 1"], b"Added key 'b' with value 'x'", [b"a", b"b"]])

    def test_connectionLostFailsPending(self):
        """
        When the server closes the connection, every waiting request fails
        with L{ConnectionClosed}, a half-read block included, and later
        requests fail at once without being sent.
        """
        proto, _, transport = connected()
        d1 = proto.sendLine(b"PRINT")
        d2 = proto.sendLine(b"GET a")
        proto.dataReceived(b"a: 1\r\n")
        proto.connectionLost(Failure(ConnectionDone()))
        for d in (d1, d2):
            error = self.failureResultOf(d, ConnectionClosed).value
            self.assertEqual(str(error), "Connection closed by server")
        sent = transport.value()
        d3 = proto.sendLine(b"GET b")
        self.failureResultOf(d3, ConnectionClosed)
        self.assertEqual(transport.value(), sent)
        self.assertFalse(proto.isOpen)

    def test_connectionLostReason(self):
        """
        An unclean loss names its reason.
        """
        proto, _, _ = connected()
        d = proto.sendLine(b"GET a")
        proto.connectionLost(Failure(ConnectionLost("reset by peer")))
        error = self.failureResultOf(d, ConnectionClosed).value
        self.assertIn("Connection to server lost", str(error))
        self.assertIn("reset by peer", str(error))
        self.assertIsInstance(error.reason.value, ConnectionLost)

    def test_unrequestedLineExplainsClose(self):
        """
        A line the server sends unasked (a refusal) is kept and named when
        the connection then closes.
        """
        proto, _, _ = connected()
        proto.dataReceived(b"-ERR max number of clients reached\r\n")
        proto.connectionLost(Failure(ConnectionDone()))
        error = proto._closedError()
        self.assertEqual(
            str(error), "Connection closed by server: -ERR max number of "
            "clients reached")
        self.assertEqual(error.serverMessage,
                         "-ERR max number of clients reached")

    def test_closeByClient(self):
        """
        L{KVClientProtocol.close} closes the transport; waiting requests
        fail saying the client closed it; L{whenClosed} fires.
        """
        proto, _, transport = connected(disconnecting=True)
        d = proto.sendLine(b"GET a")
        closed = proto.close()
        self.assertFalse(transport.connected)
        self.assertIsNone(self.successResultOf(closed))
        error = self.failureResultOf(d, ConnectionClosed).value
        self.assertEqual(str(error), "Connection closed by client")
        self.assertIsNone(self.successResultOf(proto.whenClosed()))

    def test_refusedLinesNotSent(self):
        """
        Blank lines and lines the client can't frame raise
        L{CommandRefused} and send nothing.
        """
        proto, _, transport = connected()
        self.assertRaises(CommandRefused, proto.sendLine, b"")
        self.assertRaises(CommandRefused, proto.sendLine, b"*1")
        self.assertRaises(CommandRefused, proto.sendLine, b"GET a\nGET b")
        self.assertEqual(transport.value(), b"")

    def test_handshake(self):
        """
        L{KVClientProtocol.whenHandshakeCompleted} fires when the TLS
        handshake completes, and fails if the connection ends first.
        """
        proto, _, _ = connected()
        d = proto.whenHandshakeCompleted()
        self.assertNoResult(d)
        proto.handshakeCompleted()
        self.assertIs(self.successResultOf(d), proto)
        self.assertIs(self.successResultOf(proto.whenHandshakeCompleted()),
                      proto)
        proto2, _, _ = connected()
        d2 = proto2.whenHandshakeCompleted()
        proto2.connectionLost(Failure(ConnectionLost("bad certificate")))
        self.failureResultOf(d2, ConnectionClosed)

    def test_overlongLineAborts(self):
        """
        A reply line longer than L{client.MAX_LINE} drops the connection
        rather than growing without bound.
        """
        self.patch(client, "MAX_LINE", 10)
        proto, _, transport = connected()
        proto.sendLine(b"GET a")
        proto.dataReceived(b"x" * 6)
        self.assertFalse(transport.disconnecting)
        proto.dataReceived(b"x" * 6)
        self.assertTrue(transport.disconnecting)


class KVClientTests(SynchronousTestCase):
    """
    Tests for L{KVClient}.
    """

    def test_commandQuotesAndDecodes(self):
        """
        L{KVClient.command} quotes its words and decodes the reply; a block
        is a list of C{str}.
        """
        _, kv, transport = connected()
        d = kv.command("MGET", "my key", "b")
        self.assertEqual(transport.value(), b'MGET "my key" b\r\n')
        kv.protocol.dataReceived("caf\u00e9\r\n(nil)\r\n.\r\n".encode())
        self.assertEqual(self.successResultOf(d), ["caf\u00e9", "(nil)"])

    def test_sendLineAsTyped(self):
        """
        L{KVClient.sendLine} sends a line untouched: SET's value is the
        rest of the line.
        """
        _, kv, transport = connected()
        d = kv.sendLine("SET greeting hello  world")
        self.assertEqual(transport.value(),
                         b"SET greeting hello  world\r\n")
        kv.protocol.dataReceived(
            b"Added key 'greeting' with value 'hello  world'\r\n")
        self.assertEqual(self.successResultOf(d),
                         "Added key 'greeting' with value 'hello  world'")

    def test_errorRepliesReturned(self):
        """
        L{KVClient.command} hands error lines back as replies.
        """
        _, kv, _ = connected()
        d = kv.command("NOSUCH")
        kv.protocol.dataReceived(b"ERR unknown command 'NOSUCH'\r\n")
        self.assertEqual(self.successResultOf(d),
                         "ERR unknown command 'NOSUCH'")

    def test_get(self):
        """
        L{KVClient.get} returns the value, L{None} for a missing key, and
        fails with L{ReplyError} on an error.
        """
        _, kv, transport = connected()
        found = kv.get("a")
        missing = kv.get("no such")
        wrong = kv.get("list")
        self.assertEqual(transport.value(),
                         b'GET a\r\nGET "no such"\r\nGET list\r\n')
        kv.protocol.dataReceived(
            b"Key 'a' not found. is my value\r\n"
            b"Key 'no such' not found.\r\n"
            b"WRONGTYPE Operation against a key holding the wrong kind of "
            b"value\r\n")
        self.assertEqual(self.successResultOf(found),
                         "Key 'a' not found. is my value")
        self.assertIsNone(self.successResultOf(missing))
        self.assertIn("WRONGTYPE",
                      str(self.failureResultOf(wrong, ReplyError).value))

    def test_getUnescapes(self):
        """
        L{KVClient.get} undoes the server's escapes: the value comes back
        as stored; a missing key with a quote in its name is recognised.
        """
        _, kv, transport = connected()
        found = kv.get("k")
        missing = kv.get("it's")
        kv.protocol.dataReceived(b"a\\\\nb\\x1b[31m\\tc\r\n"
                                 b"Key 'it\\'s' not found.\r\n")
        self.assertEqual(self.successResultOf(found), "a\\nb\x1b[31m\tc")
        self.assertIsNone(self.successResultOf(missing))

    def test_set(self):
        """
        L{KVClient.set} quotes the value as needed and returns the server's
        line; anything but Added/Updated is a L{ReplyError}.
        """
        _, kv, transport = connected()
        d = kv.set("k", "hello  world")
        bad = kv.set("k", "v")
        self.assertEqual(transport.value(),
                         b'SET k "hello  world"\r\nSET k v\r\n')
        kv.protocol.dataReceived(
            b"Added key 'k' with value 'hello  world'\r\n"
            b"MISCONF Errors writing to disk\r\n")
        self.assertEqual(self.successResultOf(d),
                         "Added key 'k' with value 'hello  world'")
        self.failureResultOf(bad, ReplyError)

    def test_delete(self):
        """
        L{KVClient.delete} tells whether the key existed.
        """
        _, kv, transport = connected()
        gone = kv.delete("a")
        absent = kv.delete("b")
        self.assertEqual(transport.value(), b"DEL a\r\nDEL b\r\n")
        kv.protocol.dataReceived(b"Removed key 'a'.\r\nKey 'b' not "
                                 b"found.\r\n")
        self.assertTrue(self.successResultOf(gone))
        self.assertFalse(self.successResultOf(absent))

    def test_quit(self):
        """
        L{KVClient.quit} sends C{QUIT} and fires with the goodbye only once
        the server has closed the connection.
        """
        proto, kv, transport = connected()
        d = kv.quit()
        self.assertEqual(transport.value(), b"QUIT\r\n")
        proto.dataReceived(b"Goodbye!\r\n")
        self.assertNoResult(d)
        proto.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.successResultOf(d), "Goodbye!")
        self.assertFalse(kv.connected)

    def test_quitWhenClosed(self):
        """
        L{KVClient.quit} on a closed connection just fires.
        """
        proto, kv, transport = connected()
        proto.connectionLost(Failure(ConnectionDone()))
        self.assertIsNone(self.successResultOf(kv.quit()))
        self.assertEqual(transport.value(), b"")


class ConnectTests(SynchronousTestCase):
    """
    Tests for L{client.connectEndpoint}, L{client.connect} and
    L{client.makeEndpoint}.
    """

    def test_connectNoPassword(self):
        """
        Without a password the client sends C{PING} and is ready once it is
        answered.
        """
        endpoint = FakeEndpoint()
        d = client.connectEndpoint(endpoint)
        self.assertEqual(endpoint.transport.value(), b"PING\r\n")
        self.assertNoResult(d)
        endpoint.protocol.dataReceived(b"+PONG\r\n")
        kv = self.successResultOf(d)
        self.assertIsInstance(kv, KVClient)
        self.assertIs(kv.protocol, endpoint.protocol)

    def test_connectNoCheck(self):
        """
        With C{check=False} and no password nothing is sent.
        """
        endpoint = FakeEndpoint()
        kv = self.successResultOf(client.connectEndpoint(endpoint,
                                                         check=False))
        self.assertIsInstance(kv, KVClient)
        self.assertEqual(endpoint.transport.value(), b"")

    def test_noAuthIsNoRefusal(self):
        """
        A server wanting a password answers C{PING} with C{NOAUTH}: the
        client is connected all the same (its requests will say why they
        fail).
        """
        endpoint = FakeEndpoint()
        d = client.connectEndpoint(endpoint)
        endpoint.protocol.dataReceived(b"NOAUTH Authentication required."
                                       b"\r\n")
        self.assertIsInstance(self.successResultOf(d), KVClient)

    def test_refusedByServer(self):
        """
        A server turning the client away (its reason comes unasked, in
        RESP, then it closes) fails the connection with
        L{client.ServerRefused}, not with a reply to the handshake.
        """
        for password in (None, "pw"):
            endpoint = FakeEndpoint()
            d = client.connectEndpoint(endpoint, password=password)
            endpoint.protocol.dataReceived(
                b"-ERR max number of clients reached\r\n")
            error = self.failureResultOf(d, client.ServerRefused).value
            self.assertEqual(str(error), "ERR max number of clients reached")
            self.assertTrue(endpoint.transport.disconnecting)

    def test_connectDescribesRefusal(self):
        """
        L{client.connect} reports a refusal as L{CouldNotConnect} naming
        the server's reason.
        """
        reactor = MemoryReactorClock()
        d = client.connect(reactor, "127.0.0.1", 3490)
        proto = reactor.tcpClients[0][2].buildProtocol(None)
        proto.makeConnection(StringTransport())
        proto.dataReceived(b"-DENIED protected mode\r\n")
        error = self.failureResultOf(d, CouldNotConnect).value
        self.assertEqual(str(error), "Could not connect to 127.0.0.1:3490: "
                         "DENIED protected mode")

    def test_auth(self):
        """
        With a password, C{AUTH} (quoted as needed) goes first; C{OK} makes
        the client ready.
        """
        endpoint = FakeEndpoint()
        d = client.connectEndpoint(endpoint, password="two words")
        self.assertEqual(endpoint.transport.value(),
                         b'AUTH "two words"\r\n')
        self.assertNoResult(d)
        endpoint.protocol.dataReceived(b"OK\r\n")
        kv = self.successResultOf(d)
        self.assertIsNone(kv.authWarning)

    def test_wrongPassword(self):
        """
        C{WRONGPASS} fails the connection with L{AuthenticationError} and
        closes it.
        """
        endpoint = FakeEndpoint()
        d = client.connectEndpoint(endpoint, password="nope")
        endpoint.protocol.dataReceived(
            b"WRONGPASS invalid username-password pair or user is "
            b"disabled.\r\n")
        error = self.failureResultOf(d, AuthenticationError).value
        self.assertEqual(
            str(error), "Authentication failed: WRONGPASS invalid "
            "username-password pair or user is disabled.")
        self.assertTrue(endpoint.transport.disconnecting)

    def test_passwordNotConfigured(self):
        """
        If the server has no password, the client still connects, with
        L{KVClient.authWarning} set (as redis-cli warns and goes on).
        """
        endpoint = FakeEndpoint()
        d = client.connectEndpoint(endpoint, password="pw")
        endpoint.protocol.dataReceived(
            b"ERR AUTH <password> called without any password configured "
            b"for the default user. Are you sure your configuration is "
            b"correct?\r\n")
        kv = self.successResultOf(d)
        self.assertTrue(kv.authWarning.startswith("ERR AUTH <password>"))
        self.assertFalse(endpoint.transport.disconnecting)

    def test_tlsWaitsForHandshake(self):
        """
        Over TLS the client is handed out only after the handshake.
        """
        endpoint = FakeEndpoint()
        d = client.connectEndpoint(endpoint, tls=True)
        self.assertNoResult(d)
        self.assertEqual(endpoint.transport.value(), b"")
        endpoint.protocol.handshakeCompleted()
        endpoint.protocol.dataReceived(b"+PONG\r\n")
        self.assertIsInstance(self.successResultOf(d), KVClient)

    def test_tlsHandshakeFails(self):
        """
        A failed handshake fails the connection with a message naming the
        TLS problem.
        """
        from OpenSSL import SSL

        endpoint = FakeEndpoint()
        describe = lambda f: CouldNotConnect(
            "h", 1, client.describeConnectFailure(f))
        d = client.connectEndpoint(endpoint, tls=True, describe=describe)
        endpoint.protocol.connectionLost(Failure(SSL.Error([
            ("SSL routines", "", "certificate verify failed")])))
        error = self.failureResultOf(d, CouldNotConnect).value
        self.assertEqual(str(error), "Could not connect to h:1: TLS "
                         "handshake failed: certificate verify failed")

    def test_connectRefused(self):
        """
        L{client.connect} fails with L{CouldNotConnect} and a short reason
        when the server isn't there.
        """
        reactor = MemoryReactorClock()
        d = client.connect(reactor, "127.0.0.1", 3490)
        host, port, factory, _, _ = reactor.tcpClients[0]
        self.assertEqual((host, port), ("127.0.0.1", 3490))
        factory.clientConnectionFailed(None, Failure(
            ConnectionRefusedError("111: Connection refused")))
        reactor.advance(60)
        error = self.failureResultOf(d, CouldNotConnect).value
        self.assertEqual(str(error), "Could not connect to 127.0.0.1:3490: "
                         "Connection refused")

    def test_connectSucceeds(self):
        """
        L{client.connect} fires with a L{KVClient} once the TCP connection
        is up.
        """
        reactor = MemoryReactorClock()
        d = client.connect(reactor, "127.0.0.1", 3491)
        factory = reactor.tcpClients[0][2]
        proto = factory.buildProtocol(None)
        proto.makeConnection(StringTransport())
        proto.dataReceived(b"+PONG\r\n")
        kv = self.successResultOf(d)
        self.assertTrue(kv.connected)

    def test_describeFailures(self):
        """
        Connection failures get short, readable reasons.
        """
        from twisted.internet import error

        cases = [
            (ConnectionRefusedError(), "Connection refused"),
            (error.DNSLookupError("nope"), "Host not found"),
            (error.TimeoutError(), "Connection timed out"),
            (error.ConnectError("Network is unreachable"),
             "Network is unreachable"),
        ]
        for exc, expected in cases:
            self.assertEqual(client.describeConnectFailure(Failure(exc)),
                             expected)

    def test_makeEndpointPlain(self):
        """
        Without TLS the endpoint is a L{HostnameEndpoint}.
        """
        from twisted.internet.endpoints import HostnameEndpoint

        endpoint = client.makeEndpoint(MemoryReactorClock(), "h", 1)
        self.assertIsInstance(endpoint, HostnameEndpoint)

    def test_makeEndpointTLS(self):
        """
        With C{cacert}, the endpoint is wrapped in TLS trusting that
        certificate.
        """
        from twisted.internet.endpoints import HostnameEndpoint

        pem = os.path.join(os.path.dirname(twisted.test.__file__),
                           "server.pem")
        endpoint = client.makeEndpoint(MemoryReactorClock(), "h", 1,
                                       cacert=pem)
        self.assertNotIsInstance(endpoint, HostnameEndpoint)

    def test_badCacert(self):
        """
        An unreadable or invalid C{cacert} fails L{client.connect} with a
        message naming the file.
        """
        missing = self.mktemp()
        d = client.connect(MemoryReactorClock(), "h", 1, cacert=missing)
        error = self.failureResultOf(d, KVClientError).value
        self.assertIn("Could not read CA certificate " + missing, str(error))
        garbage = self.mktemp()
        with open(garbage, "wb") as f:
            f.write(b"not a certificate")
        d = client.connect(MemoryReactorClock(), "h", 1, cacert=garbage)
        error = self.failureResultOf(d, KVClientError).value
        self.assertIn(garbage, str(error))
