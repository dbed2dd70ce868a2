# -*- test-case-name: kvtwist.test.test_client -*-
"""
A Twisted client for kvtwist.

The client speaks the text protocol, the one people type on telnet, so the
replies it hands back are exactly what the server shows a person.  A reply
is one line, except for the commands in
L{kvtwist.dialects.text.BLOCK_COMMANDS}, whose reply is a block: lines up to
a lone C{.} line, with a leading dot doubled on body lines (dot-stuffing),
or a single error line (C{ERR ...}; a block never starts with one).
The client decides which framing to expect by parsing each request line with
the server's own text parser, so the two cannot disagree.  Requests may be
pipelined: replies are matched to requests first in, first out.

Use it from Twisted code::

    from kvtwist.client import connect

    @inlineCallbacks
    def demo(reactor):
        client = yield connect(reactor, "localhost", 3490)
        yield client.set("greeting", "hello  world")
        value = yield client.get("greeting")     # "hello  world"
        lines = yield client.command("KEYS", "*")  # ["greeting"]
        yield client.quit()

How words become a line: L{KVClient.command} quotes a word that needs it
(empty, or holding whitespace, quotes, backslashes or control characters) in
double quotes with backslash escapes (C{\\n}, C{\\r}, C{\\t}, C{\\"},
C{\\\\}, C{\\xHH}), which the server's splitter decodes.  The value of
C{SET} is quoted the same way: the server takes a quoted value as one word,
so a value with spaces, quotes or even line breaks is stored exactly.
(Unquoted, the text protocol takes everything after the key as the value;
that is what a person typing C{SET k hello world} gets, and what
L{KVClient.sendLine} sends untouched.)

The server shows keys and values escaped (control bytes, bytes that aren't
UTF-8 and backslashes as C{\\n}, C{\\xHH}, C{\\\\}, ...); L{KVClient.get}
undoes it (L{kvtwist.dialects.text.unescape}), so any value reads back
exactly.  What the text protocol can't tell apart, and a program wanting
certainty should leave to a Redis client on the same port: an error reply
is a line starting with an error code (C{ERR}, C{WRONGTYPE}, ...), which a
value shown alone on its line (C{GET}) could imitate, as it could the
seed's C{Key 'k' not found.}.
"""

import re
from collections import deque
from typing import Callable, List, Optional, Union

from twisted.internet import error
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from kvtwist import dialects
from kvtwist.dialects import text
from kvtwist.dialects.text import BLOCK_COMMANDS

__all__ = [
    "KVClientError", "ConnectionClosed", "CommandRefused", "ReplyError",
    "AuthenticationError", "ServerRefused", "CouldNotConnect", "KVClientProtocol", "KVClient",
    "quoteWord", "encodeCommand", "replyShape", "isErrorReply",
    "isQuitCommand", "describeConnectFailure", "makeEndpoint", "connect",
    "connectEndpoint", "DEFAULT_PORT", "NO_REPLY", "LINE", "BLOCK",
]

#: The port the server listens on by default.
DEFAULT_PORT = 3490

#: L{replyShape} results: the server answers nothing, one line, or a block.
NO_REPLY = "none"
LINE = "line"
BLOCK = "block"

#: The longest reply line the client buffers (the server's bulk limit is
#: 512 MiB; escaping can lengthen a value a little).
MAX_LINE = 600 * 1024 * 1024

_ERROR_LINE = re.compile(
    r"-?(?:%s)(?: |\Z)" % ("|".join(text.ERROR_CODES),))
_ERROR_LINE_BYTES = re.compile(_ERROR_LINE.pattern.encode("ascii"))

_NEEDS_QUOTES = re.compile(rb"[\x00-\x20\x7f\"'\\]")
_ESCAPES = {
    b"\n": b"\\n", b"\r": b"\\r", b"\t": b"\\t", b'"': b'\\"',
    b"\\": b"\\\\",
}
_ESCAPED = re.compile(rb"[\x00-\x1f\x7f\"\\]")

_NO_PASSWORD_CONFIGURED = "ERR AUTH <password> called without any password"

class KVClientError(Exception):
    """
    Base class of the errors this module raises.
    """


class ConnectionClosed(KVClientError):
    """
    The connection ended before a reply came; every request still waiting
    fails with this error.

    @ivar reason: the L{Failure} the transport gave, or L{None}.
    @ivar serverMessage: the last line the server sent without being
        asked (such as C{ERR max number of clients reached}), or L{None}.
    """

    def __init__(self, message: str, reason: Optional[Failure] = None,
                 serverMessage: Optional[str] = None):
        KVClientError.__init__(self, message)
        self.reason = reason
        self.serverMessage = serverMessage


class CommandRefused(KVClientError, ValueError):
    """
    The client won't send this line: it is empty, holds a line break, or is
    in a dialect whose replies the client can't frame (RESP, the colon
    protocol).  Nothing was sent.
    """


class ReplyError(KVClientError):
    """
    The server answered a convenience method (L{KVClient.get},
    L{KVClient.set}, ...) with an error line, which is the message.
    """


class AuthenticationError(KVClientError):
    """
    C{AUTH} failed, for example with C{WRONGPASS}.
    """


class ServerRefused(KVClientError):
    """
    The server turned the connection away (C{ERR max number of clients
    reached}, protected mode's C{DENIED ...}); the message is its reason.
    """


class CouldNotConnect(KVClientError):
    """
    The client could not reach the server, or the TLS handshake failed.
    The message reads C{Could not connect to HOST:PORT: WHY}.

    @ivar host: the host.
    @ivar port: the port.
    @ivar why: a short reason, such as C{Connection refused}.
    """

    def __init__(self, host: str, port: int, why: str):
        KVClientError.__init__(
            self, "Could not connect to %s:%s: %s" % (host, port, why))
        self.host = host
        self.port = port
        self.why = why


def _toBytes(word) -> bytes:
    if isinstance(word, bytes):
        return word
    if isinstance(word, str):
        return word.encode("utf-8", "surrogateescape")
    if isinstance(word, (int, float)) and not isinstance(word, bool):
        return str(word).encode("ascii")
    raise TypeError("a command word must be str, bytes or a number, not %r"
                    % (type(word).__name__,))


def _escape(match) -> bytes:
    c = match.group(0)
    return _ESCAPES.get(c) or b"\\x%02x" % (ord(c),)


def quoteWord(word: Union[str, bytes, int, float]) -> bytes:
    """
    Render one word of a text command line, quoting it when the server's
    splitter would otherwise cut it up or change it.

    @param word: the word; C{str} is encoded as UTF-8.
    @return: the word itself, or the word in double quotes with C{\\n},
        C{\\r}, C{\\t}, C{\\"}, C{\\\\} and C{\\xHH} escapes.
    """
    data = _toBytes(word)
    if data and not _NEEDS_QUOTES.search(data):
        return data
    return b'"' + _ESCAPED.sub(_escape, data) + b'"'


def encodeCommand(*words) -> bytes:
    """
    Build a text command line (without its line end) from words, each
    quoted by L{quoteWord} as needed.  The first word is quoted too if it
    would otherwise make the server pick another dialect (C{*} is RESP,
    C{{} JSON lines, C{Put:} the colon protocol).

    @raise CommandRefused: for no words at all.
    """
    if not words:
        raise CommandRefused("no command given")
    parts = [quoteWord(w) for w in words]
    line = b" ".join(parts)
    if line[:1] in (b"*", b"{") or dialects.detect(line) is not text:
        parts[0] = b'"' + _ESCAPED.sub(_escape, _toBytes(words[0])) + b'"'
        line = b" ".join(parts)
    return line


def replyShape(line: bytes) -> str:
    """
    What the server will answer to a request line: L{NO_REPLY} (a blank
    line), L{LINE} or L{BLOCK}, decided by the server's own text parser and
    L{BLOCK_COMMANDS}.  A line the server can't parse (unbalanced quotes)
    gets a one-line error, whatever its command.

    @raise CommandRefused: for a line holding a line break, a RESP request
        (starting with C{*}) or another dialect the client can't frame.
        JSON lines (C{{...}}) get one line each and are allowed.
    """
    if b"\n" in line or b"\r" in line:
        raise CommandRefused("a command line cannot hold a line break")
    if line[:1] == b"*":
        raise CommandRefused(
            "lines starting with '*' are RESP requests; use a Redis client "
            "(such as redis-cli) for RESP")
    dialect = dialects.detect(line)
    if dialect is not text:
        if getattr(dialect, "name", None) == "jsonlines":
            return LINE
        raise CommandRefused(
            "the %s protocol is not supported by this client; use the text "
            "protocol (SET, GET, REMOVE, PRINT, ...)"
            % (getattr(dialect, "name", "other"),))
    request = text.parse(line)
    if request is None:
        return NO_REPLY
    if isinstance(request, text.Request) and request.name in BLOCK_COMMANDS:
        return BLOCK
    return LINE


def isQuitCommand(line: bytes) -> bool:
    """
    Whether a request line is C{QUIT} (or C{EXIT}), after which the server
    answers a goodbye line and closes the connection.
    """
    if line[:1] in (b"*", b"{") or b"\n" in line:
        return False
    words = line.split(None, 1)
    return bool(words) and words[0].upper() in (b"QUIT", b"EXIT")


def isErrorReply(reply: Union[str, bytes, List[str], None]) -> bool:
    """
    Whether a reply is an error: a line starting with a Redis error code
    (C{ERR}, C{WRONGTYPE}, C{NOAUTH}, C{WRONGPASS}, C{MISCONF},
    C{DENIED}, ...), optionally after a C{-} as in a RESP error, or a block
    whose only line is one.

    The text protocol can't tell an error from a stored value that happens
    to look like one; this is a heuristic for people and exit codes.
    """
    if isinstance(reply, list):
        return len(reply) == 1 and isErrorReply(reply[0])
    if isinstance(reply, bytes):
        return _ERROR_LINE_BYTES.match(reply) is not None
    if isinstance(reply, str):
        return _ERROR_LINE.match(reply) is not None
    return False


class _Pending:
    __slots__ = ("deferred", "block", "lines")

    def __init__(self, deferred: Deferred, block: bool):
        self.deferred = deferred
        self.block = block
        self.lines = []


@implementer(IHandshakeListener)
class KVClientProtocol(Protocol):
    """
    The wire side of the client: writes request lines, frames the reply
    lines and fires one Deferred per request, in order.

    It frames lines itself instead of using L{LineReceiver}, whose buffer
    handling copies the rest of the buffer for every line: a C{PRINT} of a
    large store or a value of many megabytes would cost quadratic time.

    Replies are C{bytes} (one line) or a C{list} of C{bytes} (a block);
    L{KVClient} decodes them.

    @ivar lostReason: the L{Failure} the connection ended with, or L{None}
        while it is open.
    @ivar serverMessage: the last line that arrived when no request was
        waiting, or L{None}.
    """

    _log = Logger()

    lostReason = None
    serverMessage = None

    def __init__(self):
        self._pending = deque()
        self._partial = []
        self._partialSize = 0
        self._closedWaiters = []
        self._handshakeWaiters = []
        self._handshaken = False
        self._closing = False
        self._connected = False

    # -- connection -----------------------------------------------------------

    @property
    def isOpen(self) -> bool:
        """
        Whether the connection is open and not being closed by us.
        """
        return self._connected and not self._closing

    def connectionMade(self):
        """
        The connection is up.
        """
        self._connected = True

    def handshakeCompleted(self):
        """
        The TLS handshake succeeded (L{IHandshakeListener}).
        """
        self._handshaken = True
        waiters, self._handshakeWaiters = self._handshakeWaiters, []
        for d in waiters:
            d.callback(self)

    def whenHandshakeCompleted(self) -> Deferred:
        """
        A Deferred that fires with this protocol once the TLS handshake is
        done, or fails with L{ConnectionClosed} if the connection ends
        first (a certificate the client doesn't trust, say).  Only useful
        over TLS.
        """
        if self._handshaken:
            return succeed(self)
        if self.lostReason is not None:
            return fail(self._closedError())
        d = Deferred()
        self._handshakeWaiters.append(d)
        return d

    def whenClosed(self) -> Deferred:
        """
        A Deferred that fires with L{None} once the connection has ended
        (L{lostReason} says why).
        """
        if self.lostReason is not None:
            return succeed(None)
        d = Deferred()
        self._closedWaiters.append(d)
        return d

    def close(self) -> Deferred:
        """
        Close the connection; requests still waiting fail with
        L{ConnectionClosed}.

        @return: L{whenClosed}.
        """
        if self.lostReason is None and not self._closing:
            self._closing = True
            if self.transport is not None:
                self.transport.loseConnection()
        return self.whenClosed()

    def abort(self):
        """
        Drop the connection at once, without waiting for output to drain.
        """
        self._closing = True
        if self.lostReason is None and self.transport is not None:
            abort = getattr(self.transport, "abortConnection", None)
            if abort is not None:
                abort()
            else:
                self.transport.loseConnection()

    def _closedError(self) -> ConnectionClosed:
        reason = self.lostReason
        message = self.serverMessage
        if self._closing:
            text_ = "Connection closed by client"
        elif reason is None or reason.check(ConnectionDone):
            text_ = "Connection closed by server"
        else:
            text_ = "Connection to server lost: %s" % (
                reason.getErrorMessage(),)
        if message:
            text_ += ": " + message
        return ConnectionClosed(text_, reason, message)

    def connectionLost(self, reason=None):
        """
        Fail every waiting request with L{ConnectionClosed}.
        """
        if reason is None:
            reason = Failure(ConnectionDone())
        self.lostReason = reason
        self._connected = False
        error = self._closedError()
        pending, self._pending = self._pending, deque()
        self._partial = []
        for entry in pending:
            entry.deferred.errback(ConnectionClosed(
                str(error), error.reason, error.serverMessage))
        waiters, self._handshakeWaiters = self._handshakeWaiters, []
        for d in waiters:
            d.errback(ConnectionClosed(str(error), error.reason,
                                       error.serverMessage))
        closed, self._closedWaiters = self._closedWaiters, []
        for d in closed:
            d.callback(None)

    # -- requests -------------------------------------------------------------

    def sendLine(self, line: bytes) -> Deferred:
        """
        Send one request line and return a Deferred for its reply: C{bytes}
        for a one-line reply, a C{list} of C{bytes} for a block (dot-
        unstuffed, without the final C{.}).

        @raise CommandRefused: (synchronously) see L{replyShape}; a blank
            line, which the server does not answer, is refused too.
        @return: a Deferred that fails with L{ConnectionClosed} if the
            connection ends first, or at once if it has already ended.
        """
        shape = replyShape(line)
        if shape == NO_REPLY:
            raise CommandRefused("empty command")
        if self.lostReason is not None or self._closing \
                or self.transport is None:
            if self.lostReason is None and not self._closing:
                return fail(ConnectionClosed("Not connected"))
            return fail(self._closedError())
        d = Deferred()
        self._pending.append(_Pending(d, shape == BLOCK))
        self.transport.write(line + b"\r\n")
        return d

    # -- replies --------------------------------------------------------------

    def dataReceived(self, data: bytes):
        """
        Split the input into lines and hand each to the waiting request.
        """
        if b"\n" not in data:
            if data:
                self._partial.append(data)
                self._partialSize += len(data)
                if self._partialSize > MAX_LINE:
                    self._log.error("reply line over {limit} bytes; closing",
                                    limit=MAX_LINE)
                    self._partial = []
                    self.abort()
            return
        if self._partial:
            self._partial.append(data)
            data = b"".join(self._partial)
            self._partial = []
            self._partialSize = 0
        lines = data.split(b"\n")
        rest = lines.pop()
        if rest:
            self._partial = [rest]
            self._partialSize = len(rest)
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            self._lineReceived(line)

    def _lineReceived(self, line: bytes):
        if not self._pending:
            self.serverMessage = line.decode("utf-8", "replace")
            self._log.info("unrequested line from the server: {line}",
                           line=self.serverMessage)
            return
        entry = self._pending[0]
        if entry.block:
            if not entry.lines and text.ERROR_LINE.match(line):
                # An error instead of the block.
                self._pending.popleft()
                entry.deferred.callback([line])
                return
            if line == b".":
                self._pending.popleft()
                entry.deferred.callback(entry.lines)
                return
            if line.startswith(b"."):
                line = line[1:]
            entry.lines.append(line)
            return
        self._pending.popleft()
        entry.deferred.callback(line)


class KVClient:
    """
    The Deferred-returning API over a connected L{KVClientProtocol}.

    Replies are C{str}: one line, or a C{list} of lines for the commands in
    L{BLOCK_COMMANDS}.  Error replies are returned as they are by
    L{command} and L{sendLine} (see L{isErrorReply}); the convenience
    methods raise L{ReplyError} for them.

    @ivar protocol: the L{KVClientProtocol}.
    @ivar authWarning: set by L{connect} when a password was given but the
        server has none configured (the server's message), else L{None}.
    """

    _log = Logger()

    authWarning = None

    def __init__(self, protocol: KVClientProtocol, encoding: str = "utf-8",
                 errors: str = "replace"):
        """
        @param protocol: a connected L{KVClientProtocol}.
        @param encoding: how reply bytes are decoded.
        @param errors: the decoding error handler.
        """
        self.protocol = protocol
        self._encoding = encoding
        self._errors = errors

    @property
    def connected(self) -> bool:
        """
        Whether the connection is open.
        """
        return self.protocol.isOpen

    def _decode(self, reply):
        if isinstance(reply, list):
            return [line.decode(self._encoding, self._errors)
                    for line in reply]
        return reply.decode(self._encoding, self._errors)

    def sendLine(self, line: Union[str, bytes]) -> Deferred:
        """
        Send a command line exactly as a person would type it (C{SET k
        hello world} stores C{hello world}).

        @raise CommandRefused: (synchronously) see L{replyShape}.
        @return: a Deferred firing with the reply (C{str} or C{list} of
            C{str}), or failing with L{ConnectionClosed}.
        """
        return self.protocol.sendLine(_toBytes(line)).addCallback(
            self._decode)

    def command(self, *words) -> Deferred:
        """
        Send a command made of words, each quoted as needed (see
        L{encodeCommand}): C{command("SET", "k", "a b")} stores C{a b},
        C{command("GET", "my key")} reads the key C{my key}.

        @raise CommandRefused: (synchronously) for no words.
        @return: like L{sendLine}.
        """
        return self.protocol.sendLine(encodeCommand(*words)).addCallback(
            self._decode)

    def _checked(self, reply):
        if isErrorReply(reply):
            raise ReplyError(reply if isinstance(reply, str) else reply[0])
        return reply

    def get(self, key) -> Deferred:
        """
        Read a key.

        @return: a Deferred firing with the value (C{str}, exactly as
            stored: the server's escapes undone), or L{None} for a missing
            key; failing with L{ReplyError} on an error reply (C{WRONGTYPE}
            for a list, say).
        """
        missing = b"Key %s not found." % (text.quote(_toBytes(key)),)

        def got(reply):
            if reply == missing:
                return None
            self._checked(self._decode(reply))
            return self._decode(text.unescape(reply))

        return self.protocol.sendLine(encodeCommand("GET", key)).addCallback(
            got)

    def set(self, key, value) -> Deferred:
        """
        Store a value; it is quoted as needed, so any value round-trips.

        @return: a Deferred firing with the server's line (C{Added key ...}
            or C{Updated key ...}); failing with L{ReplyError} otherwise.
        """
        def done(reply):
            if reply.startswith(("Added key ", "Updated key ")):
                return reply
            raise ReplyError(reply)

        return self.command("SET", key, value).addCallback(done)

    def delete(self, key) -> Deferred:
        """
        Remove a key.

        @return: a Deferred firing with C{True} if it existed, C{False} if
            not; failing with L{ReplyError} on an error reply.
        """
        def done(reply):
            if reply.startswith("Removed key "):
                return True
            if reply.startswith("Key ") and reply.endswith(" not found."):
                return False
            raise ReplyError(reply)

        return self.command("DEL", key).addCallback(done)

    def auth(self, password) -> Deferred:
        """
        Authenticate with C{AUTH password}.

        @return: a Deferred firing with C{OK}; failing with
            L{AuthenticationError} carrying the server's reply
            (C{WRONGPASS ...}, or C{ERR AUTH ... without any password
            configured ...}).
        """
        def done(reply):
            if reply == "OK":
                return reply
            raise AuthenticationError(reply)

        return self.command("AUTH", password).addCallback(done)

    def quit(self) -> Deferred:
        """
        Send C{QUIT} and wait for the server to close the connection.

        @return: a Deferred firing with the goodbye line (or L{None} if the
            connection had already ended).
        """
        if not self.protocol.isOpen:
            return self.protocol.close().addCallback(lambda _: None)
        d = self.command("QUIT")

        def closed(reply):
            return self.protocol.whenClosed().addCallback(lambda _: reply)

        def lost(failure):
            failure.trap(ConnectionClosed)
            return None

        return d.addCallbacks(closed, lost)

    def close(self) -> Deferred:
        """
        Close the connection without a goodbye.

        @return: a Deferred firing once it is closed.
        """
        return self.protocol.close().addCallback(lambda _: None)

    def whenClosed(self) -> Deferred:
        """
        A Deferred firing with L{None} once the connection has ended,
        whoever ended it.
        """
        return self.protocol.whenClosed()

    def closedError(self) -> ConnectionClosed:
        """
        The L{ConnectionClosed} describing how the connection ended.
        """
        return self.protocol._closedError()


def describeConnectFailure(failure: Failure) -> str:
    """
    A short human reason for a failed connection attempt, such as
    C{Connection refused} or C{TLS handshake failed: certificate verify
    failed}.
    """
    value = failure.value
    if isinstance(value, ConnectionClosed) and value.reason is not None \
            and value.reason is not failure:
        inner = describeConnectFailure(value.reason)
        if value.serverMessage:
            return "%s (server said: %s)" % (inner, value.serverMessage)
        return inner
    if failure.check(error.ConnectionRefusedError):
        return "Connection refused"
    if failure.check(error.DNSLookupError):
        return "Host not found"
    if failure.check(error.TimeoutError, error.TCPTimedOutError):
        return "Connection timed out"
    if failure.check(error.NoRouteError):
        return "No route to host"
    if failure.check(ConnectionDone):
        return "Connection closed by server"
    try:
        from OpenSSL import SSL
    except ImportError:  # pragma: no cover - twisted[tls] is required
        SSL = None
    if SSL is not None and failure.check(SSL.Error):
        return "TLS handshake failed: %s" % (_sslReason(value),)
    if failure.check(error.ConnectError) and value.osError:
        return str(value.osError).rstrip(".")
    message = failure.getErrorMessage()
    return message.rstrip(".") or failure.type.__name__


def _sslReason(value) -> str:
    try:
        reasons = [entry[2] for entry in value.args[0] if entry[2]]
    except (IndexError, TypeError):
        reasons = []
    return ", ".join(reasons) or str(value) or "unknown error"


def makeEndpoint(reactor, host: str, port: int, tls: bool = False,
                 cacert: Optional[str] = None, timeout: float = 10.0):
    """
    The client endpoint for a server: a L{HostnameEndpoint}, wrapped in
    TLS (L{wrapClientTLS}, verifying the server's certificate for C{host})
    when C{tls} is true or a C{cacert} is given.

    @param cacert: a PEM file of the certificate authority to trust instead
        of the platform's.
    @raise KVClientError: if C{cacert} can't be read or parsed.
    """
    from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS

    endpoint = HostnameEndpoint(reactor, host, port, timeout=timeout)
    if not (tls or cacert):
        return endpoint
    from twisted.internet import ssl

    trustRoot = None
    if cacert:
        try:
            with open(cacert, "rb") as f:
                trustRoot = ssl.Certificate.loadPEM(f.read())
        except (OSError, ValueError) as e:
            raise KVClientError("Could not read CA certificate %s: %s"
                                % (cacert, e))
        except Exception as e:
            raise KVClientError("Could not load CA certificate %s: %s"
                                % (cacert, _sslReason(e)))
    options = ssl.optionsForClientTLS(host, trustRoot=trustRoot)
    return wrapClientTLS(options, endpoint)


def connectEndpoint(endpoint, password: Optional[Union[str, bytes]] = None,
                    tls: bool = False,
                    describe: Optional[Callable[[Failure], Exception]] = None,
                    check: bool = True) -> Deferred:
    """
    Connect through any client endpoint and return a ready L{KVClient}.

    The first request is a handshake that proves the server took the
    connection: C{AUTH} with a password, otherwise C{PING} (unless
    C{check} is false).  A server that refuses the client (too many
    clients, protected mode) sends its reason unasked and closes; that
    reason arrives as the handshake's reply, and fails the connection with
    L{ServerRefused} rather than passing for a reply to a later request.

    @param password: if given, C{AUTH} is sent first; a wrong password
        fails the connection with L{AuthenticationError}.  If the server
        has no password configured, the client is still returned, with
        L{KVClient.authWarning} set (as redis-cli warns and goes on).
    @param tls: wait for the TLS handshake before returning, so that an
        untrusted certificate fails here rather than on the first request.
    @param describe: a callable turning a L{Failure} of the connection (but
        not an L{AuthenticationError}) into the exception to fail with
        (default: the failure itself).
    @param check: send C{PING} when there is no password.
    @return: a Deferred firing with a L{KVClient}.
    """
    log = Logger(namespace="kvtwist.client")

    def connected(protocol):
        client = KVClient(protocol)
        d = succeed(None)
        if tls:
            d.addCallback(lambda _: protocol.whenHandshakeCompleted())
        if password is not None:
            d.addCallback(lambda _: client.command("AUTH", password))
            d.addCallback(checkAuth, client)
        elif check:
            d.addCallback(lambda _: client.command("PING"))
            d.addCallback(checkPing)
        d.addCallback(lambda _: client)
        d.addErrback(failed, protocol)
        return d

    def checkAuth(reply, client):
        if reply == "OK":
            return
        if reply.startswith(_NO_PASSWORD_CONFIGURED):
            client.authWarning = reply
            log.warn("AUTH failed: {reply}", reply=reply)
            return
        if reply.startswith("-"):
            raise ServerRefused(reply[1:])
        raise AuthenticationError("Authentication failed: %s" % (reply,))

    def checkPing(reply):
        # A text reply never starts with "-"; a refusal is rendered in RESP.
        if reply.startswith("-"):
            raise ServerRefused(reply[1:])

    def failed(failure, protocol):
        protocol.close()
        if describe is not None and not failure.check(AuthenticationError):
            raise describe(failure)
        return failure

    d = endpoint.connect(Factory.forProtocol(KVClientProtocol))
    if describe is not None:
        d.addErrback(lambda f: _raise(describe(f)))
    return d.addCallback(connected)


def _raise(exc):
    raise exc


def connect(reactor, host: str = "localhost", port: int = DEFAULT_PORT,
            tls: bool = False, cacert: Optional[str] = None,
            password: Optional[Union[str, bytes]] = None,
            timeout: float = 10.0) -> Deferred:
    """
    Connect to a kvtwist server.

    @param reactor: the reactor (L{IReactorTCP} and friends).
    @param host: a host name or address.
    @param port: the port.
    @param tls: speak TLS, verifying the server's certificate for C{host}.
    @param cacert: a PEM file of the certificate authority to trust
        (implies C{tls}).
    @param password: sent with C{AUTH} first (see L{connectEndpoint}).
    @param timeout: seconds to wait for the connection.
    @return: a Deferred firing with a connected L{KVClient}; failing with
        L{CouldNotConnect} (C{Could not connect to localhost:3490:
        Connection refused}; also when the server turns the client away:
        C{... 3490: ERR max number of clients reached}),
        L{AuthenticationError} or L{KVClientError} (an unreadable
        C{cacert}).
    """
    try:
        endpoint = makeEndpoint(reactor, host, port, tls, cacert, timeout)
    except KVClientError:
        return fail()

    def describe(failure):
        if failure.check(ServerRefused):
            return CouldNotConnect(host, port, str(failure.value))
        if failure.check(KVClientError) and not failure.check(
                ConnectionClosed):
            return failure.value
        return CouldNotConnect(host, port, describeConnectFailure(failure))

    return connectEndpoint(endpoint, password, bool(tls or cacert), describe)
