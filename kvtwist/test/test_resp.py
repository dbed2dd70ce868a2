"""
Tests for L{kvtwist.dialects.resp}: request framing and reply rendering.
"""

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from kvtwist.dialects import resp
from kvtwist.dialects.resp import (
    ProtocolError, encodeCommand, parseCommand, render)
from kvtwist.replies import Error, Status, Verbatim
from kvtwist.test.properties import HealthCheck, given, settings, st

try:
    from kvtwist import _resp
except ImportError:
    _resp = None

#: Why the tests of C{kvtwist._resp}'s functions skip where it is missing.
NOT_BUILT = "kvtwist._resp is not built (PyPy, or no C compiler)"


class ParseTests(SynchronousTestCase):
    """
    L{parseCommand}.
    """

    def test_binarySafe(self):
        """
        Bulk strings may hold CR, LF and NUL.
        """
        data = encodeCommand("SET", b"a\r\nb", b"\x00\r\n")
        self.assertEqual(parseCommand(data, 0),
                         ([b"SET", b"a\r\nb", b"\x00\r\n"], len(data)))

    def test_everyPrefixIncomplete(self):
        """
        Every strict prefix of a request asks for more bytes, with a
        hint that never overshoots what the request needs.
        """
        data = encodeCommand("MSET", "key", "x" * 50, "k2", "")
        for cut in range(1, len(data)):
            args, need = parseCommand(data[:cut], 0)
            self.assertIsNone(args)
            self.assertGreater(need, cut)
            self.assertLessEqual(need, len(data))

    def test_offset(self):
        """
        Parsing starts at the given position; the end position is returned.
        """
        one = encodeCommand("PING")
        two = encodeCommand("ECHO", "hi")
        args, end = parseCommand(one + two, len(one))
        self.assertEqual((args, end), ([b"ECHO", b"hi"], len(one + two)))

    def test_errors(self):
        """
        Malformed framing raises with Redis's texts.
        """
        cases = [
            (b"*x\r\n", "ERR Protocol error: invalid multibulk length"),
            (b"*1\r\n+GET\r\n", "ERR Protocol error: expected '$', got '+'"),
            (b"*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length"),
            (b"*1\r\n$abc\r\n", "ERR Protocol error: invalid bulk length"),
            (b"*1\r\n$3\r\nGETXX", "ERR Protocol error: invalid bulk format"),
        ]
        for data, message in cases:
            e = self.assertRaises(ProtocolError, parseCommand, data, 0)
            self.assertEqual(str(e), message)

    def test_limits(self):
        """
        Bulk and multibulk limits are checked from the header alone.
        """
        self.assertRaises(ProtocolError, parseCommand,
                          b"*1\r\n$11\r\n", 0, 10)
        self.assertRaises(ProtocolError, parseCommand,
                          b"*11\r\n", 0, 100, 10)


class ParseManyMixin:
    """
    Tests of a C{parseMany}, the one-pass fast path: C{self.parseMany}.
    """

    def test_pipeline(self):
        """
        Every whole request is returned with its end position.
        """
        one = encodeCommand("SET", "k", "v")
        two = encodeCommand("GET", "k")
        batch = self.parseMany(one + two + b"*1\r\n$4\r\nPI", 0)
        self.assertEqual(batch, [([b"SET", b"k", b"v"], len(one)),
                                 ([b"GET", b"k"], len(one + two))])

    def test_stopsAtUnusual(self):
        """
        A value holding CR LF, an inline line or bad framing stops the
        fast path at that request, leaving it to L{parseCommand}.
        """
        one = encodeCommand("GET", "a")
        for tail in [encodeCommand("SET", "k", "a\r\nb"), b"PING\r\n",
                     b"*1\r\n$9\r\nPING\r\n", b"*x\r\n"]:
            self.assertEqual(self.parseMany(one + tail + one, 0),
                             [([b"GET", b"a"], len(one))])

    def test_limits(self):
        """
        Requests over the limits are left to L{parseCommand} to refuse.
        """
        data = encodeCommand("SET", "k", "v" * 20)
        self.assertEqual(self.parseMany(data, 0, 10), [])
        self.assertEqual(self.parseMany(data, 0, 100, 2), [])


class ParseManyPythonTests(ParseManyMixin, SynchronousTestCase):
    """
    L{resp.parseManyPython}.
    """

    parseMany = staticmethod(resp.parseManyPython)


class ParseManyScanTests(ParseManyMixin, SynchronousTestCase):
    """
    L{resp.parseManyScan}, the version PyPy uses.
    """

    parseMany = staticmethod(resp.parseManyScan)

    def test_isUsedOnPyPy(self):
        """
        On PyPy, L{resp.parseMany} is this version.
        """
        import platform
        if platform.python_implementation() != "PyPy":
            raise SkipTest("PyPy's choice")
        self.assertIs(resp.parseMany, resp.parseManyScan)

    def test_choice(self):
        """
        The C version wherever it is built; without it, this version on
        PyPy and L{resp.parseManyPython} elsewhere.
        """
        class C:
            parseMany = object()
        choose = resp._chooseParseMany
        self.assertIs(choose("CPython", C), C.parseMany)
        self.assertIs(choose("PyPy", C), C.parseMany)
        self.assertIs(choose("PyPy", None), resp.parseManyScan)
        self.assertIs(choose("CPython", None), resp.parseManyPython)


class ParseManyCTests(ParseManyMixin, SynchronousTestCase):
    """
    C{kvtwist._resp.parseMany}, the C version CPython uses.
    """

    if _resp is None:
        skip = NOT_BUILT
    else:
        parseMany = staticmethod(_resp.parseMany)

    def test_isUsed(self):
        """
        Where it is built, L{resp.parseMany} is the C version.
        """
        self.assertIs(resp.parseMany, _resp.parseMany)

    def test_arguments(self):
        """
        Bad arguments raise as a Python function's would.
        """
        self.assertRaises(TypeError, self.parseMany, "*1\r\n", 0)
        self.assertRaises(ValueError, self.parseMany, b"*1\r\n", -1)
        self.assertEqual(self.parseMany(b"*1\r\n$1\r\na\r\n", 99), [])


#: Pieces random RESP input is made of: whole requests and the ways they
#: go wrong.
_PIECES = [
    b"*", b"$", b"\r\n", b"\r", b"\n", b"0", b"1", b"2", b"3", b"9", b"-",
    b"00", b"*0\r\n", b"*-1\r\n", b"$0\r\n\r\n", b"$-1\r\n", b"a",
    b"PING\r\n", b"*2\r\n$01\r\na\r\n", b"$20000000000000000000\r\n",
    b"*99999999999999999999\r\n", b"*1\r\n$3\r\na\r\n\r\n",
    b"*1\r\n$2\r\na\r\r\n", b"*1\r\n$1\r\n\r\r\n", b"*1\r\n$01\r\na\r\n",
    b"*01\r\n$1\r\na\r\n", b"*1\r\n$00\r\n\r\n", b"*1\r\n$+1\r\na\r\n",
]


def _requests():
    args = st.lists(st.binary(max_size=12) | st.sampled_from(
        [b"", b"\r", b"\n", b"\r\n", b"a\r\nb", b"x\r"]),
        min_size=1, max_size=4)
    return st.lists(
        args.map(lambda a: encodeCommand(*a)) | st.sampled_from(_PIECES),
        max_size=12).map(b"".join)


class EquivalenceMixin:
    """
    C{self.parseMany} agrees with L{resp.parseManyPython} on any input.
    (One test shared by two classes: hypothesis is told that is meant.)
    """

    @settings(max_examples=1000, deadline=None,
              suppress_health_check=[HealthCheck.differing_executors])
    @given(_requests(), st.integers(0, 40), st.integers(0, 20),
           st.integers(0, 5), st.integers(0, 3))
    def test_same(self, data, cut, pos, maxBulk, maxMultibulk):
        """
        Same requests, same end positions, same stopping point, whatever
        the buffer, its truncation, the start position and the limits.
        """
        buf = data[:len(data) - cut] if cut < len(data) else data
        pos = min(pos, len(buf))
        for limits in [(), (maxBulk * 4, maxMultibulk + 1)]:
            self.assertEqual(self.parseMany(buf, pos, *limits),
                             resp.parseManyPython(buf, pos, *limits))


class ParseManyEquivalenceTests(EquivalenceMixin, SynchronousTestCase):
    """
    The C and Python versions of C{parseMany} agree on any input.
    """

    if _resp is None:
        skip = NOT_BUILT
    else:
        parseMany = staticmethod(_resp.parseMany)


class ParseManyScanEquivalenceTests(EquivalenceMixin, SynchronousTestCase):
    """
    The two Python versions of C{parseMany} agree on any input (on every
    interpreter: the C version needn't be built).
    """

    parseMany = staticmethod(resp.parseManyScan)


def _bulks():
    args = st.lists(st.binary(max_size=12) | st.sampled_from(
        [b"", b"\r\n", b"a\r\nb"]), max_size=5)
    return st.lists(
        args.map(lambda a: b"".join(b"$%d\r\n%s\r\n" % (len(x), x)
                                    for x in a)) | st.sampled_from(_PIECES),
        max_size=6).map(b"".join)


class ParseBulksTests(SynchronousTestCase):
    """
    L{resp.parseBulks}: the arguments of a long request, a read at a time.
    """

    def test_partial(self):
        """
        It stops at the first argument not whole and says what it needs:
        its whole size from there when its header is whole, -1 while not.
        """
        wire = b"$3\r\nfoo\r\n$5\r\nhello\r\n"
        args = []
        self.assertEqual(resp.parseBulks(wire[:14], 0, 2, 100, args), (9, 11))
        self.assertEqual(args, [b"foo"])
        args = []
        self.assertEqual(resp.parseBulks(wire[:12], 0, 2, 100, args), (9, -1))
        self.assertEqual(resp.parseBulks(wire, 9, 1, 100, args), (20, 0))
        self.assertEqual(args, [b"foo", b"hello"])

    def test_errors(self):
        """
        Broken framing and lengths over the limit raise L{ProtocolError}
        with Redis's text, C version or not.
        """
        for wire, message in [
                (b":1\r\n", "ERR Protocol error: expected '$', got ':'"),
                (b"$x\r\n", "ERR Protocol error: invalid bulk length"),
                (b"$101\r\n", "ERR Protocol error: invalid bulk length"),
                (b"$" + b"1" * 40, "ERR Protocol error: invalid bulk length"),
                (b"$1\r\nab\r\n", "ERR Protocol error: invalid bulk format")]:
            e = self.assertRaises(ProtocolError, resp.parseBulks, wire, 0, 1,
                                  100, [])
            self.assertEqual(str(e), message)

    @settings(max_examples=300, deadline=None)
    @given(_bulks(), st.integers(0, 40), st.integers(0, 6),
           st.integers(0, 20))
    def test_sameAsPython(self, data, cut, count, maxBulk):
        """
        L{resp.parseBulks} (the C version where it is built) gives what
        L{resp.parseBulksPython} gives, raising or not, on any input.
        """
        buf = data[:len(data) - cut] if cut < len(data) else data

        def run(parse):
            args = []
            try:
                return parse(buf, 0, count, maxBulk, args), args
            except ProtocolError as e:
                return str(e), args

        self.assertEqual(run(resp.parseBulks), run(resp.parseBulksPython))


class SplitInlineTests(SynchronousTestCase):
    """
    L{resp.splitInline} splits lines as Redis splits inline commands.
    """

    def test_asRedis(self):
        """
        What Redis 7.0's inline protocol made of each line (checked by
        sending them to C{redis-server} as C{ECHO} arguments).
        """
        cases = [
            (b"ECHO a", [b"ECHO", b"a"]),
            (b"  ECHO   a  ", [b"ECHO", b"a"]),
            (b'ECHO "a b"', [b"ECHO", b"a b"]),
            (b'ECHO "a\\x41\\n"', [b"ECHO", b"aA\n"]),
            (b'ECHO "\\b\\a\\t\\q\\""', [b"ECHO", b'\x08\x07\tq"']),
            (b'ECHO "\\x4g"', [b"ECHO", b"x4g"]),
            (b"ECHO 'it\\'s'", [b"ECHO", b"it's"]),
            (b"ECHO 'a\\nb'", [b"ECHO", b"a\\nb"]),
            (b"ECHO 'a\"b'", [b"ECHO", b'a"b']),
            (b'ECHO a"b"', [b"ECHO", b"ab"]),
            (b'ECHO "" \'\'', [b"ECHO", b"", b""]),
            (b"ECHO a\x0bb", [b"ECHO", b"a\x0bb"]),
            (b"\x0bECHO a\tb", [b"ECHO", b"a", b"b"]),
            (b'ECHO "\xff"', [b"ECHO", b"\xff"]),
            (b"ECHO \\x41", [b"ECHO", b"\\x41"]),
            (b"", []),
            (b" \t ", []),
        ]
        for line, words in cases:
            self.assertEqual(resp.splitInline(line), words, line)

    def test_unbalanced(self):
        """
        An unclosed quote, or a closing quote followed by more than a
        blank, is an error (L{None}).
        """
        for line in [b'ECHO "ab', b'ECHO "a"b', b"ECHO 'x'y", b'ECHO "\\']:
            self.assertIsNone(resp.splitInline(line), line)

    def test_nul(self):
        """
        A NUL byte ends the line (Redis's splitter reads a C string).
        """
        self.assertEqual(resp.splitInline(b"ECHO a\x00b c"), [b"ECHO", b"a"])


class RenderBulkMixin:
    """
    A C{renderBulk}: the RESP bulk string of a value of any length.
    """

    def test_lengths(self):
        """
        Empty, short, around the lengths the header changes at (and the
        Python version's table of headers ends at), long.
        """
        for n in [0, 1, 9, 10, 99, 100, 1023, 1024, 1025, 12345, 1 << 20]:
            value = bytes(range(256)) * (n // 256) + b"v" * (n % 256)
            self.assertEqual(self.renderBulk(value),
                             b"$%d\r\n%s\r\n" % (n, value))


class RenderBulkPythonTests(RenderBulkMixin, SynchronousTestCase):
    """
    L{resp.renderBulkPython}, the version PyPy uses.
    """

    renderBulk = staticmethod(resp.renderBulkPython)


class RenderBulkCTests(RenderBulkMixin, SynchronousTestCase):
    """
    C{kvtwist._resp.renderBulk}, the C version CPython uses.
    """

    if _resp is None:
        skip = NOT_BUILT
    else:
        renderBulk = staticmethod(_resp.renderBulk)

    def test_isUsed(self):
        """
        Where it is built, L{resp.renderBulk} is the C version.
        """
        self.assertIs(resp.renderBulk, _resp.renderBulk)

    def test_notBytes(self):
        """
        Anything but bytes is a L{TypeError}, not a crash.
        """
        for value in ["text", 5, None, bytearray(b"x"), memoryview(b"x")]:
            self.assertRaises(TypeError, _resp.renderBulk, value)


class RenderTests(SynchronousTestCase):
    """
    L{render} in RESP2 and RESP3.
    """

    def test_resp2(self):
        """
        RESP2 types; nulls as $-1, maps as flat arrays, doubles as bulks.
        """
        self.assertEqual(render(Status("OK")), b"+OK\r\n")
        self.assertEqual(render(Error("ERR x")), b"-ERR x\r\n")
        self.assertEqual(render(5), b":5\r\n")
        self.assertEqual(render(None), b"$-1\r\n")
        self.assertEqual(render(b"ab"), b"$2\r\nab\r\n")
        self.assertEqual(render([b"a", None]), b"*2\r\n$1\r\na\r\n$-1\r\n")
        self.assertEqual(render({b"k": 1}), b"*2\r\n$1\r\nk\r\n:1\r\n")
        self.assertEqual(render(1.5), b"$3\r\n1.5\r\n")
        self.assertEqual(render(True), b":1\r\n")
        self.assertEqual(render(Verbatim(b"a:1\r\n")), b"$5\r\na:1\r\n\r\n")

    def test_resp3(self):
        """
        RESP3 nulls, maps, doubles, booleans and verbatim strings.
        """
        self.assertEqual(render(None, 3), b"_\r\n")
        self.assertEqual(render({b"k": 1}, 3), b"%1\r\n$1\r\nk\r\n:1\r\n")
        self.assertEqual(render(1.5, 3), b",1.5\r\n")
        self.assertEqual(render(False, 3), b"#f\r\n")
        self.assertEqual(render(Verbatim(b"hi"), 3), b"=6\r\ntxt:hi\r\n")

    def test_linesInStatus(self):
        """
        A line break can't escape a status or error line.
        """
        self.assertEqual(render(Error("ERR a\r\nb")), b"-ERR a  b\r\n")
