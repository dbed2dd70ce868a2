"""
Fuzz tests for L{kvtwist.protocol}: random and mutated input for every
dialect (text lines, RESP multibulk, JSON lines, colon lines, and a mix of
them with random bytes), fed to a L{KVProtocol} over a string transport in
random chunk sizes.

Each example checks that
    - no exception escapes and nothing is logged as a failure;
    - every reply is well formed for its dialect (RESP replies parse as
      RESP, text replies are whole lines, JSON replies are one JSON value
      per line, colon replies are C{key:value} lines);
    - the output does not depend on how the input was split into chunks
      (the RESP fast path and the careful parser, the per-batch output
      budget and the partial-line buffering must all agree);
    - the connection either goes on or is closed after a protocol error
      (or a C{QUIT});
    - another connection on the same factory still answers C{PING}.

No sockets, no real time: a L{Clock} drives the protocol.
"""

import json
import os
import re
from typing import List, Optional, Tuple


from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from kvtwist.dialects.resp import encodeCommand
from kvtwist.dialects import jsonlines, text
from kvtwist.dialects.text import BLOCK_COMMANDS
from kvtwist.replies import Error
from kvtwist.test.properties import HealthCheck, given, settings, st
from kvtwist.test.test_protocol import FakeService, connect, makeFactory

#: Examples per test; set C{KVTWIST_FUZZ_EXAMPLES} to hunt longer.
EXAMPLES = int(os.environ.get("KVTWIST_FUZZ_EXAMPLES", "200"))

FUZZ = settings(deadline=None, max_examples=EXAMPLES, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

PASSWORD = b"fuzz-pw"

PROTOCOL_ERROR = b"-ERR Protocol error: "


class FuzzService(FakeService):
    """
    A L{FakeService} that also answers the snapshot commands, and in
    durable mode makes every write's reply a Deferred (as C{--fsync
    always} does) so that ordered replies behind Deferreds get fuzzed too.
    """

    lastSave = 0

    def __init__(self, durable: bool = False):
        FakeService.__init__(self)
        self.durable = durable

    def save(self):
        """
        Pretend to save.
        """
        return "OK"

    def bgsave(self):
        """
        Pretend to start a background save.
        """
        return "Background saving started"


# -- RESP replies -----------------------------------------------------------

class Malformed(Exception):
    """
    Output that is not a well-formed RESP reply.
    """


def parseReply(buf: bytes, pos: int) -> Optional[int]:
    """
    Parse one RESP2 or RESP3 reply at C{buf[pos]}.

    @return: the position after it, or L{None} if C{buf} ends first.
    @raise Malformed: if the bytes can't be a reply.
    """
    end = buf.find(b"\r\n", pos)
    if end < 0:
        return None
    kind = buf[pos:pos + 1]
    head = buf[pos + 1:end]
    nxt = end + 2
    if b"\r" in head or b"\n" in head:
        raise Malformed("line with a bare CR or LF at %d" % (pos,))
    if kind in (b"+", b"-"):
        return nxt
    if kind in (b":", b"("):
        if not re.fullmatch(rb"-?\d+", head):
            raise Malformed("bad integer %r" % (head,))
        return nxt
    if kind == b",":
        try:
            float(head)
        except ValueError:
            if head not in (b"inf", b"-inf", b"nan"):
                raise Malformed("bad double %r" % (head,))
        return nxt
    if kind == b"#":
        if head not in (b"t", b"f"):
            raise Malformed("bad boolean %r" % (head,))
        return nxt
    if kind == b"_":
        if head:
            raise Malformed("bad null %r" % (head,))
        return nxt
    if kind in (b"$", b"=", b"!"):
        if head == b"-1" and kind == b"$":
            return nxt
        if not head.isdigit():
            raise Malformed("bad bulk length %r" % (head,))
        stop = nxt + int(head)
        if stop + 2 > len(buf):
            return None
        if buf[stop:stop + 2] != b"\r\n":
            raise Malformed("bulk not followed by CR LF at %d" % (stop,))
        return stop + 2
    if kind in (b"*", b"~", b">", b"%", b"|"):
        if head == b"-1" and kind == b"*":
            return nxt
        if not head.isdigit():
            raise Malformed("bad aggregate length %r" % (head,))
        count = int(head) * (2 if kind in (b"%", b"|") else 1)
        p = nxt
        for _ in range(count):
            p = parseReply(buf, p)
            if p is None:
                return None
        return p
    raise Malformed("unknown reply type %r at %d" % (kind, pos))


def parseReplies(buf: bytes) -> List[bytes]:
    """
    Split C{buf} into whole RESP replies.

    @raise Malformed: if anything is malformed or left over.
    """
    replies = []
    pos = 0
    while pos < len(buf):
        nxt = parseReply(buf, pos)
        if nxt is None:
            raise Malformed("truncated reply at %d: %r" % (pos, buf[pos:]))
        replies.append(buf[pos:nxt])
        pos = nxt
    return replies


# -- driving a protocol -----------------------------------------------------

class Run:
    """
    The outcome of feeding one input to a fresh connection.

    @ivar output: every byte the server wrote to the fuzzed connection.
    @ivar connected: whether that connection is still open at the end.
    @ivar factory: the factory, for further connections.
    """

    def __init__(self, output: bytes, connected: bool, factory, clock):
        self.output = output
        self.connected = connected
        self.factory = factory
        self.clock = clock


def settle(clock, service):
    """
    Run everything due now: resumptions after a full output budget and
    Deferred replies waiting for durability.
    """
    for _ in range(10000):
        service.fire()
        due = [c for c in clock.getDelayedCalls()
               if c.getTime() <= clock.seconds()]
        if not due and not service.waiting:
            return
        clock.advance(0)
    raise AssertionError("the protocol never settled")


def chunked(data: bytes, sizes: List[int]):
    """
    Split C{data} into pieces whose lengths cycle through C{sizes}.
    """
    pos = 0
    i = 0
    while pos < len(data):
        size = sizes[i % len(sizes)]
        i += 1
        yield data[pos:pos + size]
        pos += size


def feed(data: bytes, sizes: Optional[List[int]], password=None,
         durable=False, maxOutputBuffer=1024 * 1024,
         authenticate=False) -> Run:
    """
    Feed C{data} to a new connection on a new factory, in chunks of
    C{sizes} (all at once if L{None}), settling after each chunk.

    @param authenticate: send C{AUTH} first (its reply is not kept).
    """
    factory, clock = makeFactory(password=password,
                                 maxOutputBuffer=maxOutputBuffer)
    service = FuzzService(durable)
    factory.service = service
    proto, transport = connect(factory, port=1)
    if authenticate:
        proto.dataReceived(encodeCommand("AUTH", password))
        settle(clock, service)
        assert transport.value() == b"+OK\r\n", transport.value()
        transport.clear()
    pieces = [data] if sizes is None else chunked(data, sizes)
    for piece in pieces:
        if not transport.connected:
            break
        proto.dataReceived(piece)
        settle(clock, service)
    settle(clock, service)
    return Run(transport.value(), transport.connected, factory, clock)


# -- strategies -------------------------------------------------------------

#: Commands safe to run repeatedly whose replies depend only on the input
#: (no clocks, memory sizes or client ids), so chunked and whole runs can
#: be compared byte for byte.
DETERMINISTIC = [
    b"GET", b"SET", b"DEL", b"PING", b"ECHO", b"INCR", b"DECRBY", b"APPEND",
    b"STRLEN", b"LPUSH", b"RPUSH", b"LPOP", b"LRANGE", b"LLEN", b"LINDEX",
    b"LSET", b"LREM", b"LREPLACE", b"EXISTS", b"MGET", b"MSET", b"KEYS",
    b"SCAN", b"TYPE", b"RENAME", b"EXPIRE", b"TTL", b"PERSIST", b"GETSET",
    b"GETDEL", b"SETNX", b"DBSIZE", b"PRINT", b"HELLO", b"AUTH", b"SELECT",
    b"FLUSHALL", b"SAVE", b"BGSAVE", b"HELP", b"COMMAND", b"CONFIG",
    b"NOSUCHCMD", b"REMOVE", b"DELETE", b"FLUSH",
]

keys = st.sampled_from([b"a", b"b", b"list", b"n", b"k:1", b"\xff\x00"])
smallArgs = st.one_of(
    keys,
    st.sampled_from([b"0", b"1", b"-1", b"3", b"GET", b"EX", b"NX", b"*",
                     b"COUNT", b"2", b"3", b"AUTH", b"default", PASSWORD,
                     b"9999999999999999999999", b"1.5", b""]),
    st.binary(max_size=12),
)
commandNames = st.one_of(
    st.sampled_from(DETERMINISTIC),
    st.sampled_from(DETERMINISTIC).map(lambda n: n.lower()),
)
respCommands = st.tuples(commandNames, st.lists(smallArgs, max_size=5)).map(
    lambda t: [t[0]] + t[1])
sizesStrategy = st.lists(st.integers(min_value=1, max_value=40),
                         min_size=1, max_size=12)


def encode(args: List[bytes]) -> bytes:
    """
    Encode C{args} as one RESP request.
    """
    return encodeCommand(*args)


@st.composite
def corruptedResp(draw) -> Tuple[bytes, int]:
    """
    A stream of RESP requests with one corruption: a changed count or
    length, a wrong type byte, a flipped byte, inserted or deleted bytes,
    negative or huge lengths.

    @return: C{(data, prefixRequests)}: the corrupted stream, and how many
        whole requests at its start come before the corruption.
    """
    requests = draw(st.lists(respCommands, min_size=1, max_size=8))
    frames = [encode(r) for r in requests]
    victim = draw(st.integers(0, len(frames) - 1))
    frame = frames[victim]
    how = draw(st.sampled_from(["count", "length", "type", "flip", "insert",
                                "delete", "negative", "huge", "truncate",
                                "nondigit"]))
    headers = [m.start() for m in re.finditer(rb"(?:^|\r\n)[*$]", frame)]
    headers = [h + 2 if frame[h:h + 2] == b"\r\n" else h for h in headers]
    at = draw(st.sampled_from(headers))
    lineEnd = frame.index(b"\r\n", at)
    if how == "count" or how == "length":
        number = draw(st.integers(0, 40))
        frame = frame[:at + 1] + b"%d" % (number,) + frame[lineEnd:]
    elif how == "type":
        kind = draw(st.sampled_from([b"$", b"*", b"+", b":", b"-", b"x",
                                     b"{", b"P", b"\x00", b"\r"]))
        frame = frame[:at] + kind + frame[at + 1:]
    elif how == "negative":
        frame = frame[:at + 1] + draw(st.sampled_from(
            [b"-1", b"-2", b"-0", b"--1", b"-"])) + frame[lineEnd:]
    elif how == "huge":
        frame = frame[:at + 1] + draw(st.sampled_from(
            [b"99999999999", b"9" * 19, b"9" * 20, b"18446744073709551616",
             b"1048577", b"536870913"])) + frame[lineEnd:]
    elif how == "nondigit":
        frame = frame[:at + 1] + draw(st.sampled_from(
            [b"", b" 3", b"3 ", b"0x3", b"\xd9\xa3", b"+3", b"3\r"])) + \
            frame[lineEnd:]
    elif how == "flip":
        i = draw(st.integers(0, len(frame) - 1))
        frame = frame[:i] + bytes([draw(st.integers(0, 255))]) + \
            frame[i + 1:]
    elif how == "insert":
        i = draw(st.integers(0, len(frame)))
        frame = frame[:i] + draw(st.binary(min_size=1, max_size=8)) + \
            frame[i:]
    elif how == "delete":
        i = draw(st.integers(0, len(frame) - 1))
        j = draw(st.integers(i + 1, len(frame)))
        frame = frame[:i] + frame[j:]
    elif how == "truncate":
        frame = frame[:draw(st.integers(0, len(frame) - 1))]
    frames[victim] = frame
    return b"".join(frames), victim


def _deterministicWord(word: bytes) -> bool:
    """
    Whether a random word is safe as a command word: not the name of a
    command whose reply depends on more than the input (C{info}, C{time}).
    """
    from kvtwist.commands import TABLE
    upper = word.upper()
    return upper not in TABLE or upper in DETERMINISTIC


def _word(draw) -> bytes:
    return draw(st.one_of(
        commandNames,
        st.text("abcdefghijklmnopqrstuvwxyzGS", min_size=1,
                max_size=8).map(lambda s: s.encode("ascii")).filter(
                    _deterministicWord)))


#: Random bytes for lines: no line end, and no 255 byte (Telnet's IAC: see
#: test_telnetCommands).
lineBytes = st.binary(max_size=16).map(
    lambda b: b.replace(b"\n", b" ").replace(b"\xff", b""))


@st.composite
def textLines(draw) -> List[bytes]:
    """
    Text-protocol request lines (no line ends): a command word, then
    words, quoted words (some unbalanced or with bad escapes) and random
    bytes.
    """
    lines = []
    for _ in range(draw(st.integers(1, 10))):
        parts = [_word(draw)]
        for _ in range(draw(st.integers(0, 4))):
            parts.append(draw(st.one_of(
                smallArgs.map(lambda b: b.replace(b"\n", b"")),
                st.sampled_from([b'"a b"', b'"unbalanced', b'"\\x4', b'"\\n"',
                                 b'"x"y', b"''", b'"\\xzz"', b"\r", b"\t"]),
                lineBytes)))
        line = b" ".join(parts)
        if draw(st.booleans()):
            line += b"\r"
        # A 255 byte is Telnet's IAC: see test_telnetCommands.
        lines.append(line.replace(b"\n", b"").replace(b"\xff", b""))
    return lines


#: Telnet commands as telnet sends them (L{kvtwist.protocol.telnet}), with
#: their reply.
TELNET = [
    (b"\xff\xf4\xff\xfd\x06", b"\xff\xfb\x06"),  # Ctrl+C: IP, DO TM
    (b"\xff\xf3", b""),  # BRK
    (b"\xff\xf8", b""),  # EL
    (b"\xff\xf7", b""),  # EC
    (b"\xff\xf1", b""),  # NOP
    (b"\xff\xf6", b"[Yes]\r\n"),  # AYT
    (b"\xff\xfd\x01", b"\xff\xfc\x01"),  # DO ECHO: WONT
    (b"\xff\xfb\x1f", b"\xff\xfe\x1f"),  # WILL NAWS: DONT
    (b"\xff\xfc\x01", b""),  # WONT
    (b"\xff\xfe\x01", b""),  # DONT
    (b"\xff\xfa\x1f\x00\x50\xff\xff\x00\x18\xff\xf0", b""),  # SB NAWS
]


def withoutTelnet(output: bytes) -> bytes:
    """
    C{output} without the replies to Telnet negotiations (which are not
    lines).
    """
    return re.sub(rb"\xff[\xfb-\xfe].", b"", output, flags=re.DOTALL)


jsonScalars = st.one_of(
    st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=10),
    st.sampled_from(["a", "b", "list", "\ud800", "k:1"]))
jsonValues = st.recursive(
    jsonScalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=5), children, max_size=4)),
    max_leaves=10)


@st.composite
def jsonLines(draw) -> List[bytes]:
    """
    JSON-lines requests: objects with a C{type} from the command table or
    not, keys, values and args of every JSON type, and mutated lines that
    still start with C{{}.
    """
    lines = []
    for _ in range(draw(st.integers(1, 8))):
        obj = {}
        choice = draw(st.integers(0, 9))
        if choice >= 3:
            obj["type"] = draw(commandNames).decode("latin-1")
        elif choice >= 1:
            obj["type"] = draw(st.one_of(jsonScalars, jsonValues))
        for field in ("key", "value", "args"):
            if draw(st.booleans()):
                obj[field] = draw(st.one_of(jsonScalars, jsonValues))
        line = json.dumps(obj, ensure_ascii=draw(st.booleans()))
        line = line.encode("utf-8", "surrogatepass")
        if draw(st.integers(0, 3)) == 0:
            # Mutate, keeping the leading brace so it stays JSON lines.
            i = draw(st.integers(1, max(1, len(line) - 1)))
            line = line[:i] + draw(lineBytes) + line[i + draw(
                st.integers(0, 3)):]
        lines.append(line)
    return lines


@st.composite
def colonLines(draw) -> List[bytes]:
    """
    Colon-protocol lines: every verb in any case, with too few or too many
    fields, empty fields and random bytes.
    """
    lines = []
    for _ in range(draw(st.integers(1, 10))):
        verb = draw(st.sampled_from([b"Put", b"PUT", b"put", b"Get", b"get",
                                     b"Update", b"UPDATE", b"Delete",
                                     b"delete", b"pUt"]))
        fields = draw(st.lists(st.one_of(
            keys.map(lambda k: k.replace(b":", b"")),
            st.sampled_from([b"", b"v1", b"v2", b"a:b"]),
            lineBytes.map(lambda b: b.replace(b"\r", b""))),
            min_size=1, max_size=4))
        lines.append(b":".join([verb] + fields))
    return lines


@st.composite
def mixed(draw) -> bytes:
    """
    A stream mixing every dialect, random bytes and corrupted RESP.
    """
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.integers(0, 5))
        if kind == 0:
            parts.append(b"".join(encode(r) for r in draw(
                st.lists(respCommands, max_size=3))))
        elif kind == 1:
            parts.append(b"\r\n".join(draw(textLines())) + b"\r\n")
        elif kind == 2:
            parts.append(b"\n".join(draw(jsonLines())) + b"\n")
        elif kind == 3:
            parts.append(b"\n".join(draw(colonLines())) + b"\n")
        elif kind == 4:
            parts.append(draw(corruptedResp())[0])
        else:
            parts.append(draw(st.binary(max_size=40)))
    return b"".join(parts)


# -- the tests ---------------------------------------------------------------

class LogWatcher:
    """
    Collects the failures logged through L{twisted.logger} while active.
    """

    def __init__(self):
        self.failures = []

    def __call__(self, event):
        if "log_failure" in event:
            self.failures.append(event)

    def __enter__(self):
        globalLogPublisher.addObserver(self)
        return self

    def __exit__(self, *exc):
        globalLogPublisher.removeObserver(self)


class FuzzMixin:
    """
    Shared checks.
    """

    def setUp(self):
        self.watcher = LogWatcher()
        self.watcher.__enter__()
        self.addCleanup(self.watcher.__exit__)

    def checkRun(self, data: bytes, sizes, **kwargs) -> Run:
        """
        Feed C{data} whole and in chunks; check the two runs agree, nothing
        was logged as a failure, a closed connection ended with a protocol
        error (or C{QUIT}), and another connection still answers C{PING}.

        @return: the chunked L{Run}.
        """
        whole = feed(data, None, **kwargs)
        chunks = feed(data, sizes, **kwargs)
        failures = self.watcher.failures
        self.assertEqual(failures, [], "failures were logged: %r"
                         % ([e.get("log_format") for e in failures],))
        self.assertEqual(chunks.output, whole.output,
                         "output depends on chunking for %r" % (data,))
        self.assertEqual(chunks.connected, whole.connected)
        if not chunks.connected:
            lastLine = withoutTelnet(chunks.output).rstrip(
                b"\r\n").rsplit(b"\n", 1)[-1]
            quit = re.search(rb"(?i)quit|exit", data) is not None
            self.assertTrue(
                lastLine.startswith(PROTOCOL_ERROR) or quit,
                "closed without a protocol error: %r" % (lastLine,))
        self.assertOtherClientsServed(chunks, kwargs.get("password"))
        return chunks

    def assertOtherClientsServed(self, run: Run, password):
        """
        A new connection on the fuzzed factory answers PING.
        """
        proto, transport = connect(run.factory, port=2)
        if password is not None:
            proto.dataReceived(encodeCommand("AUTH", password))
        proto.dataReceived(encodeCommand("PING") + b"PING\r\n")
        settle(run.clock, run.factory.service)
        expected = (b"+OK\r\n" if password is not None else b"") + \
            b"+PONG\r\n+PONG\r\n"
        self.assertEqual(transport.value(), expected)
        self.assertTrue(transport.connected)


class RespFuzzTests(FuzzMixin, SynchronousTestCase):
    """
    RESP multibulk requests, valid and corrupted.
    """

    @FUZZ
    @given(requests=st.lists(respCommands, min_size=1, max_size=12),
           sizes=sizesStrategy, durable=st.booleans(),
           budget=st.sampled_from([1, 64, 1024 * 1024]))
    def test_validRequests(self, requests, sizes, durable, budget):
        """
        Any sequence of well-framed requests gets exactly one well-formed
        RESP reply each, in one or many chunks, and the connection stays
        open.
        """
        data = b"".join(encode(r) for r in requests)
        run = self.checkRun(data, sizes, durable=durable,
                            maxOutputBuffer=budget)
        self.assertTrue(run.connected)
        self.assertEqual(len(parseReplies(run.output)), len(requests))

    @FUZZ
    @given(case=corruptedResp(), sizes=sizesStrategy,
           password=st.sampled_from([None, PASSWORD]))
    def test_corruptedRequests(self, case, sizes, password):
        """
        A corrupted request never disturbs the replies to the requests
        before it; the connection goes on or ends with a protocol error;
        the output is whole lines.
        """
        data, before = case
        run = self.checkRun(data, sizes, password=password,
                            authenticate=password is not None)
        prefix = feed(data[:self._prefixLength(data, before)], None,
                      password=password,
                      authenticate=password is not None).output
        self.assertEqual(len(parseReplies(prefix)), before)
        self.assertTrue(run.output.startswith(prefix))
        if run.output:
            self.assertTrue(run.output.endswith(b"\n"), run.output)

    def _prefixLength(self, data: bytes, count: int) -> int:
        """
        The length of the first C{count} (intact) requests of C{data}.
        """
        pos = 0
        from kvtwist.dialects.resp import parseCommand
        for _ in range(count):
            args, pos = parseCommand(data, pos)
            assert args is not None
        return pos

    @FUZZ
    @given(data=st.binary(max_size=200).map(lambda b: b"*" + b),
           sizes=sizesStrategy)
    def test_randomAfterStar(self, data, sizes):
        """
        Random bytes after a C{*}: a protocol error, a wait for more, or
        whatever the bytes say; never a crash.
        """
        self.checkRun(data, sizes)


def untilQuit(lines: List[bytes], parse) -> Tuple[List[bytes], bool]:
    """
    The lines up to and including the first C{QUIT} (or C{EXIT}), which
    closes the connection, as the dialect's C{parse} reads them; and
    whether there was one.
    """
    for i, line in enumerate(lines):
        request = parse(line.rstrip(b"\r"))
        if request is not None and type(request) is not Error and \
                request.name in (b"QUIT", b"EXIT"):
            return lines[:i + 1], True
    return lines, False


class LineFuzzTests(FuzzMixin, SynchronousTestCase):
    """
    Text, JSON and colon lines.
    """

    @FUZZ
    @given(lines=textLines(), sizes=sizesStrategy,
           ending=st.sampled_from([b"\n", b"\r\n"]))
    def test_textLines(self, lines, sizes, ending):
        """
        Every text line gets one reply line, or a block ending in a lone
        dot for the block commands unless they fail (a line that can't be
        split into words, such as one with unbalanced quotes, gets one
        error line: its command is unknown; so does a block command that
        fails); reply lines hold no bare CR or LF.
        """
        data = b"".join(line + ending for line in lines)
        run = self.checkRun(data, sizes)
        lines, quit = untilQuit(lines, text.parse)
        self.assertEqual(run.connected, not quit)
        out = run.output
        self.assertTrue(out == b"" or out.endswith(b"\r\n"), out)
        replyLines = out.split(b"\r\n")[:-1]
        for line in replyLines:
            self.assertNotIn(b"\r", line)
            self.assertNotIn(b"\n", line)
        pos = 0
        for line in lines:
            request = text.parse(line.rstrip(b"\r"))
            if request is None:
                continue
            if type(request) is not Error and \
                    request.name in BLOCK_COMMANDS and \
                    not text.ERROR_LINE.match(replyLines[pos]):
                while replyLines[pos] != b".":
                    pos += 1
            pos += 1
        self.assertEqual(pos, len(replyLines))

    @FUZZ
    @given(lines=textLines(), sizes=sizesStrategy,
           telnet=st.lists(st.tuples(st.integers(0, 10**6),
                                     st.sampled_from(TELNET)), max_size=6))
    def test_telnetCommands(self, lines, sizes, telnet):
        """
        Telnet commands anywhere in text lines (a Ctrl+C in the middle of
        a line, say) are taken out, answered in their place when they want
        an answer, and the lines they cancel (IP, BRK, EL) or cut (EC) are
        run as what is left of them: the same output as the lines typed
        without them, and the same in any chunking.
        """
        # No "*": a line that starts with it, as one could once a Telnet
        # command cancelled what came before, is a RESP request, where no
        # Telnet command is looked for (see test_telnet).
        lines = [line.replace(b"*", b"") for line in lines]
        data = bytearray(b"".join(line + b"\n" for line in lines))
        typed = [bytearray()]
        inserts = sorted((at % (len(data) + 1), command)
                         for at, command in telnet)
        stream = bytearray()
        pos = 0
        expectedReplies = []
        for at, (command, reply) in inserts:
            stream += data[pos:at]
            for byte in data[pos:at]:
                typed[-1].append(byte)
                if byte == 10:
                    typed.append(bytearray())
            pos = at
            stream += command
            if command in (b"\xff\xf4\xff\xfd\x06", b"\xff\xf3",
                           b"\xff\xf8"):
                typed[-1] = bytearray()
            elif command == b"\xff\xf7":
                del typed[-1][-1:]
            if reply:
                expectedReplies.append(reply)
        stream += data[pos:]
        for byte in data[pos:]:
            typed[-1].append(byte)
            if byte == 10:
                typed.append(bytearray())
        run = self.checkRun(bytes(stream), sizes)
        plain = feed(b"".join(bytes(line) for line in typed), None)
        output = run.output
        for reply in expectedReplies:
            # All of them, unless the connection closed (a line that
            # became RESP, QUIT).
            if plain.connected:
                self.assertIn(reply, output)
            output = output.replace(reply, b"", 1)
        self.assertEqual(output, plain.output)

    @FUZZ
    @given(lines=jsonLines(), sizes=sizesStrategy,
           password=st.sampled_from([None, PASSWORD]))
    def test_jsonLines(self, lines, sizes, password):
        """
        Every JSON line gets exactly one reply: one JSON value on one line.
        """
        data = b"".join(line + b"\n" for line in lines)
        run = self.checkRun(data, sizes, password=password)
        lines, quit = untilQuit(lines, jsonlines.parse)
        self.assertEqual(run.connected, not quit)
        replyLines = run.output.split(b"\n")
        self.assertEqual(replyLines[-1], b"")
        self.assertEqual(len(replyLines) - 1, len(lines))
        for line in replyLines[:-1]:
            json.loads(line.decode("utf-8"))

    @FUZZ
    @given(lines=colonLines(), sizes=sizesStrategy,
           password=st.sampled_from([None, PASSWORD]))
    def test_colonLines(self, lines, sizes, password):
        """
        Colon lines get only C{key:value} reply lines (for C{Get}), never
        an error text; with a password set they get nothing at all and
        change nothing.
        """
        data = b"".join(line + b"\n" for line in lines)
        run = self.checkRun(data, sizes, password=password)
        self.assertTrue(run.connected)
        if password is not None:
            self.assertEqual(run.output, b"")
            self.assertEqual(run.factory.store.size(), 0)
            return
        replyLines = run.output.split(b"\n")
        self.assertEqual(replyLines[-1], b"")
        for line in replyLines[:-1]:
            self.assertIn(b":", line)
            self.assertNotIn(b"\r", line)
            self.assertFalse(line.startswith((b"ERR", b"-ERR")), line)


class MixedFuzzTests(FuzzMixin, SynchronousTestCase):
    """
    Everything at once, on one connection.
    """

    @FUZZ
    @given(data=mixed(), sizes=sizesStrategy,
           password=st.sampled_from([None, PASSWORD]),
           authenticate=st.booleans(), durable=st.booleans())
    def test_mixedStream(self, data, sizes, password, authenticate,
                         durable):
        """
        Any mix of dialects and junk: no crash, no logged failure, the
        same output in any chunking, output made of whole lines, other
        clients served.
        """
        run = self.checkRun(data, sizes, password=password, durable=durable,
                            authenticate=authenticate and password is not None)
        output = withoutTelnet(run.output)
        if output:
            self.assertTrue(output.endswith(b"\n"), output[-200:])

    @FUZZ
    @given(data=st.binary(max_size=300), sizes=sizesStrategy)
    def test_randomBytes(self, data, sizes):
        """
        Purely random bytes are handled like any other input.
        """
        run = self.checkRun(data, sizes)
        output = withoutTelnet(run.output)
        if output:
            self.assertTrue(output.endswith(b"\n"), output[-200:])
