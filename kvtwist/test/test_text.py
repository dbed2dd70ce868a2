"""
Tests for L{kvtwist.dialects.text}: parsing lines and rendering replies
(the protocol-level behaviour is in L{kvtwist.test.test_protocol}).
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.dialects import text
from kvtwist.replies import Error, Status, Verbatim, wrongArity
from kvtwist.test.properties import given, settings, st


class ParseSetTests(SynchronousTestCase):
    """
    C{SET} lines: the value is the rest of the line unless quoted.
    """

    def args(self, line: bytes):
        request = text.parse(line)
        self.assertEqual(request.name, b"SET")
        return request.args

    def test_examples(self):
        """
        Plain, spaced, quoted and oddly separated lines: the value is the
        rest of the line without the blanks around it (C{SET k  v} stores
        C{v}); a quoted value keeps its spaces.
        """
        cases = [
            (b"SET k v", [b"k", b"v", b"GET"]),
            (b"set k v", [b"k", b"v", b"GET"]),
            (b"SET msg don't panic", [b"msg", b"don't panic", b"GET"]),
            (b"SET k  v", [b"k", b"v", b"GET"]),
            (b"SET k v ", [b"k", b"v", b"GET"]),
            (b"SET k \t two  words \t", [b"k", b"two  words", b"GET"]),
            (b'SET k "  spaced  "', [b"k", b"  spaced  ", b"GET"]),
            (b"SET k\tv", [b"k", b"v", b"GET"]),
            (b'SET "a b" c', [b"a b", b"c", b"GET"]),
            (b'SET k "x y"', [b"k", b"x y", b"GET"]),
            (b'SET k ""', [b"k", b"", b"GET"]),
            (b"SET k v EX 10", [b"k", b"v EX 10", b"GET"]),
        ]
        for line, expected in cases:
            self.assertEqual(self.args(line), expected, line)

    @settings(max_examples=500, deadline=None)
    @given(st.lists(
        st.sampled_from([b"k", b"v", b"ab", b"'", b'"', b'"q"', b"'q'",
                         b"x'y", b"", b"\\x41"]),
        min_size=2, max_size=4),
        st.lists(st.sampled_from([b" ", b"  ", b"\t", b"\r", b"\x0b",
                                  b"\x0c", b" \t", b"\x1c", b"\xa0"]),
                 min_size=4, max_size=4), st.booleans(), st.booleans())
    def test_shortcutAgrees(self, words, seps, trailing, leading):
        """
        Whenever the shortcut for plain three-word lines applies, its
        arguments are what the full rule finds, whatever separates the
        words (bytes that split words and bytes that don't).
        """
        line = b" SET" if leading else b"SET"
        for word, sep in zip(words, seps):
            line += sep + word
        if trailing:
            line += b" "
        split = text.splitArgs(line)
        if split is None or not text._plainSet(line, split):
            return
        self.assertEqual(split[1:], text._setArgs(line, split))


class RenderSetTests(SynchronousTestCase):
    """
    The reply to a text C{SET}.
    """

    def test_addedUpdated(self):
        """
        Added or updated, the key and value quoted, line breaks shown.
        """
        request = text.parse(b'SET "k\\r" "v\\n"')
        self.assertEqual(text.render(request, None),
                         b"Added key 'k\\r' with value 'v\\n'\r\n")
        request = text.parse(b"SET k two words")
        self.assertEqual(text.render(request, b"old"),
                         b"Updated key 'k' with value 'two words'\r\n")

    def test_queued(self):
        """
        Inside C{MULTI}, a command answers C{QUEUED}, whatever text its own
        reply would have.
        """
        from kvtwist.replies import QUEUED
        for line in [b"SET k v", b"GET k", b"DEL k", b"PRINT"]:
            self.assertEqual(text.render(text.parse(line), QUEUED),
                             b"QUEUED\r\n")

    def test_exec(self):
        """
        C{EXEC}'s replies come as a block, one numbered line each, values
        quoted and escaped; a subscription made inside the transaction
        reads as it does outside one (not as a Python list); a transaction
        that did not run (a watched key changed) is C{(nil)}.
        """
        from kvtwist.replies import NULL_ARRAY, Push, Pushes, Status
        request = text.parse(b"EXEC")
        reply = [Status("OK"), b"a\x1bb", 2, [b"x", b"y"], None,
                 Pushes([Push([b"subscribe", b"ch", 1])])]
        self.assertEqual(
            text.render(request, reply),
            b"1) OK\r\n2) 'a\\x1bb'\r\n3) 2\r\n4) 'x' 'y'\r\n"
            b"5) (nil)\r\n"
            b"6) Subscribed to channel 'ch' (1 subscription).\r\n.\r\n")
        self.assertEqual(text.render(request, NULL_ARRAY), b"(nil)\r\n.\r\n")
        self.assertEqual(text.render(request, []), b"(empty)\r\n.\r\n")


class EscapeTests(SynchronousTestCase):
    """
    Tests for L{text.escape}, L{text.quote} and L{text.unescape}: keys and
    values shown safely, read back exactly.
    """

    def test_examples(self):
        """
        Control bytes, DEL, backslashes, C1 controls and bytes that aren't
        UTF-8 are escaped; text in any script is kept.
        """
        cases = [
            (b"plain value", b"plain value"),
            (b"\x1b[31mRED", b"\\x1b[31mRED"),
            (b"line\nbreak", b"line\\nbreak"),
            (b"back\\nslash", b"back\\\\nslash"),
            (b"cr\r\ttab", b"cr\\r\\ttab"),
            (b"\x00\x7f", b"\\x00\\x7f"),
            (b"\xff\xfe", b"\\xff\\xfe"),
            ("\u009b2J".encode("utf-8"), b"\\xc2\\x9b2J"),
            ("caf\u00e9 \u65e5\u672c".encode("utf-8"),
             "caf\u00e9 \u65e5\u672c".encode("utf-8")),
            (b"it's", b"it's"),
        ]
        for value, shown in cases:
            self.assertEqual(text.escape(value), shown, value)
            self.assertEqual(text.unescape(shown), value, value)

    def test_quote(self):
        """
        Quoted, a quote inside is escaped too.
        """
        self.assertEqual(text.quote(b"it's"), b"'it\\'s'")
        self.assertEqual(text.unescape(text.quote(b"it's")[1:-1]), b"it's")
        self.assertEqual(text.quote(b"a\nb"), b"'a\\nb'")

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=40))
    def test_getAnyValue(self, value):
        """
        Whatever bytes a value holds, the text reply to C{GET} is one line
        with no control byte (C0, DEL, nor a C1 control in its text), and
        reads back to the value.
        """
        data = text.render(text.parse(b"GET k"), value)
        self.assertTrue(data.endswith(b"\r\n"))
        line = data[:-2]
        self.assertNoControl(line)
        self.assertEqual(text.unescape(line), value)

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.binary(max_size=20), max_size=4))
    def test_mgetAnyValues(self, values):
        """
        In a block (C{MGET}), each value is one safe line that reads back,
        once the dot-stuffing is undone.
        """
        data = text.render(text.parse(b"MGET a b c d"), values)
        lines = data.split(b"\r\n")
        self.assertEqual(lines[-2:], [b".", b""])
        body = [line[1:] if line.startswith(b".") else line
                for line in lines[:-2]]
        self.assertEqual([text.unescape(line) for line in body], values)
        for line in body:
            self.assertNoControl(line)

    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=20), st.binary(max_size=20))
    def test_setAnyKeyValue(self, key, value):
        """
        The reply to C{SET} shows key and value quoted and safe, each
        reading back to what was stored.
        """
        request = text.Request(b"SET", b"SET", [key, value, b"GET"])
        line = text.render(request, None)[:-2]
        self.assertNoControl(line)
        self.assertEqual(line, b"Added key %s with value %s"
                         % (text.quote(key), text.quote(value)))
        for word in (key, value):
            quoted = text.quote(word)
            self.assertEqual(quoted[:1] + quoted[-1:], b"''")
            self.assertEqual(text.unescape(quoted[1:-1]), word)
            # A quote inside is always escaped: the quoted word ends at the
            # first unescaped quote.
            self.assertNotIn(b"'", quoted[1:-1].replace(b"\\\\", b"")
                             .replace(b"\\'", b""))

    def assertNoControl(self, line: bytes):
        """
        No C0 control, DEL, or C1 control (as UTF-8) in C{line}.
        """
        for byte in line:
            self.assertFalse(byte < 0x20 or byte == 0x7f, line)
        decoded = line.decode("utf-8")
        for char in decoded:
            self.assertFalse(0x80 <= ord(char) <= 0x9f, line)

    def test_escapeOnTheTerminal(self):
        """
        The issue's example: a value that would recolour a terminal comes
        back with its ESC shown, not sent.
        """
        request = text.parse(b'SET esc "\\x1b[31mRED"')
        self.assertEqual(request.args[:2], [b"esc", b"\x1b[31mRED"])
        self.assertEqual(text.render(request, None),
                         b"Added key 'esc' with value '\\x1b[31mRED'\r\n")
        self.assertEqual(text.render(text.parse(b"GET esc"), b"\x1b[31mRED"),
                         b"\\x1b[31mRED\r\n")

    def test_backslashNotNewline(self):
        """
        A value holding a backslash and an n is shown differently from one
        holding a line break.
        """
        get = text.parse(b"GET k")
        self.assertNotEqual(text.render(get, b"a\\nb"),
                            text.render(get, b"a\nb"))

    def test_statusAndErrorControls(self):
        """
        Control characters echoed in an error (an unknown command typed
        with an ESC in it) are shown, not sent.
        """
        request = text.parse(b"FROB\x1b[2J x")
        reply = Error("ERR unknown command 'FROB\x1b[2J'")
        self.assertEqual(text.render(request, reply),
                         b"ERR unknown command 'FROB\\x1b[2J'\r\n")
        self.assertEqual(text.render(request, Status("a\x07b")),
                         b"a\\x07b\r\n")

    def test_verbatimControls(self):
        """
        Lines of text for people (C{CLIENT LIST}, C{INFO}) keep their lines
        but show control characters.
        """
        request = text.parse(b"CLIENT LIST")
        self.assertEqual(
            text.render(request, Verbatim(b"id=1 name=\x1b[31m\nid=2\n")),
            b"id=1 name=\\x1b[31m\r\nid=2\r\n.\r\n")


class PrintTests(SynchronousTestCase):
    """
    C{PRINT}: a list can't be mistaken for a string, nor one key for two.
    """

    def render(self, store):
        """
        The body lines of C{PRINT}'s reply to C{store}.
        """
        data = text.render(text.parse(b"PRINT"), store)
        return data.split(b"\r\n")[:-2]

    def test_seedFormat(self):
        """
        Plain strings are shown as the seed showed them: C{key: value}.
        """
        self.assertEqual(self.render({b"mykey": b"my value"}),
                         [b"mykey: my value"])
        self.assertEqual(self.render({}), [b"Store is empty."])

    def test_listVersusString(self):
        """
        A list shows its items quoted in brackets; a string that starts
        like a list or a quoted value is quoted, so the two differ.
        """
        self.assertEqual(self.render({b"l": [b"x", b"y, z", b"it's"]}),
                         [b"l: ['x', 'y, z', 'it\\'s']"])
        self.assertEqual(self.render({b"s": b"['x', 'y, z']"}),
                         [b"s: '[\\'x\\', \\'y, z\\']'"])
        self.assertEqual(self.render({b"s": b"[x, y]"}), [b"s: '[x, y]'"])
        self.assertEqual(self.render({b"q": b"'v'"}), [b"q: '\\'v\\''"])

    def test_stream(self):
        """
        A stream (as the store's contents give it: entries as C{[id,
        [field, value, ...]]}) shows as nested brackets.
        """
        self.assertEqual(
            self.render({b"x": [[b"1-1", [b"f", b"v"]], [b"2-0", []]]}),
            [b"x: [['1-1', ['f', 'v']], ['2-0', []]]"])

    def test_awkwardKeys(self):
        """
        A key holding C{": "} or starting with a quote is quoted; control
        bytes in keys and values are escaped.
        """
        self.assertEqual(self.render({b"a: b": b"c"}), [b"'a: b': c"])
        self.assertEqual(self.render({b"'k": b"v"}), [b"'\\'k': v"])
        self.assertEqual(self.render({b"\x1bk": b"\x1bv"}),
                         [b"\\x1bk: \\x1bv"])


class ErrorRenderTests(SynchronousTestCase):
    """
    Errors: one line, naming the word typed.
    """

    def test_aliasArity(self):
        """
        C{REMOVE} and C{DELETE} with no key name themselves in the arity
        error, not C{del}.
        """
        for word in (b"REMOVE", b"remove", b"DELETE"):
            request = text.parse(word)
            self.assertEqual(
                text.render(request, wrongArity("DEL")),
                b"ERR wrong number of arguments for '%s' command\r\n"
                % (word.lower(),))
        request = text.parse(b"DEL")
        self.assertEqual(text.render(request, wrongArity("DEL")),
                         b"ERR wrong number of arguments for 'del' command\r\n")

    def test_blockCommandError(self):
        """
        An error to a block command is one line, with no C{.} after it.
        """
        for line in (b"MGET", b"KEYS a b", b"LRANGE l", b"PRINT x"):
            request = text.parse(line)
            name = request.name.decode()
            self.assertEqual(
                text.render(request, wrongArity(name)),
                b"ERR wrong number of arguments for '%s' command\r\n"
                % (name.lower().encode(),))
        self.assertEqual(
            text.render(text.parse(b"LRANGE l 0 1"), Error("WRONGTYPE x")),
            b"WRONGTYPE x\r\n")

    def test_unknownErrorCode(self):
        """
        An error whose code a client can't know stays framed as a block.
        """
        self.assertEqual(text.render(text.parse(b"MGET a"),
                                     Error("WEIRD thing")),
                         b"WEIRD thing\r\n.\r\n")

    def test_valueLikeAnError(self):
        """
        A block whose first line would look like an error has it
        dot-stuffed; later lines are left alone.
        """
        self.assertEqual(text.render(text.parse(b"MGET a b"),
                                     [b"ERR boom", b"ERR bang"]),
                         b".ERR boom\r\nERR bang\r\n.\r\n")
        self.assertEqual(text.render(text.parse(b"MGET a"), [b"ERRATA"]),
                         b"ERRATA\r\n.\r\n")


class PingTests(SynchronousTestCase):
    """
    C{PING} on a text connection.
    """

    def test_barePing(self):
        """
        A bare C{PING} line is answered exactly C{+PONG} (redis-benchmark's
        PING_INLINE and health checks expect it); C{PING msg} echoes.
        """
        self.assertEqual(text.render(text.parse(b"PING"), Status("PONG")),
                         b"+PONG\r\n")
        self.assertEqual(text.render(text.parse(b"ping"), Status("PONG")),
                         b"+PONG\r\n")
        self.assertEqual(text.render(text.parse(b"PING hi"), b"hi"),
                         b"hi\r\n")


class ReadableTests(SynchronousTestCase):
    """
    Readable one-line forms of replies that would read poorly flattened.
    """

    def test_lcsIdx(self):
        """
        C{LCS ... IDX} shows its length and each matching range.
        """
        reply = {b"matches": [[[4, 7], [5, 8], 4], [[2, 3], [0, 1], 2]],
                 b"len": 6}
        self.assertEqual(
            text.render(text.parse(b"LCS a b IDX WITHMATCHLEN"), reply),
            b"len 6: a[4..7] = b[5..8] (4), a[2..3] = b[0..1] (2)\r\n")
        self.assertEqual(text.render(text.parse(b"LCS a b IDX"),
                                     {b"matches": [], b"len": 0}),
                         b"len 0\r\n")
        self.assertEqual(text.render(text.parse(b"LCS a b"), b"mytext"),
                         b"mytext\r\n")

    def test_lmpop(self):
        """
        C{LMPOP} shows the key, then the elements it popped.
        """
        self.assertEqual(text.render(text.parse(b"LMPOP 1 l LEFT"),
                                     [b"l", [b"a", b"b c"]]),
                         b"'l': 'a' 'b c'\r\n")

    def test_zmpop(self):
        """
        C{ZMPOP} and C{BZMPOP} show the key, then the members they popped
        with their scores.
        """
        popped = [b"z", [[b"a", 1.0], [b"b c", 2.5]]]
        for line in (b"ZMPOP 1 z MIN COUNT 2", b"BZMPOP 0 1 z MIN COUNT 2"):
            self.assertEqual(text.render(text.parse(line), popped),
                             b"'z': 'a' (1) 'b c' (2.5)\r\n")
        self.assertEqual(text.render(text.parse(b"ZMPOP 1 z MIN"), None),
                         b"(nil)\r\n")


class HelpTests(SynchronousTestCase):
    """
    C{HELP} on a text connection: the command table's syntax and summary
    of every command, and what the text protocol adds.
    """

    def help(self, line: bytes):
        """
        The body lines of the text reply to C{line}, run by the real
        C{HELP} handler.
        """
        from kvtwist.commands.connection import help_
        request = text.parse(line)
        data = text.render(request, help_(None, request.args))
        return data.decode("utf-8").split("\r\n")

    def test_everyCommand(self):
        """
        C{HELP} lists every command of the table with its syntax and
        summary, and the text protocol's own words.
        """
        from kvtwist.commands import TABLE
        lines = self.help(b"HELP")
        self.assertEqual(lines[-2:], [".", ""])
        body = "\n".join(lines)
        for cmd in TABLE.values():
            self.assertTrue(cmd.syntax and cmd.summary, cmd.name)
            self.assertTrue(any(line.startswith("  " + cmd.syntax) and
                                line.endswith(cmd.summary)
                                for line in lines), cmd.name)
        self.assertIn("REMOVE and DELETE are DEL", body)
        self.assertNotIn("README", body)

    def test_oneCommand(self):
        """
        C{HELP SET} gives SET's syntax and summary from the table, then how
        the text protocol reads its value; C{HELP remove} is C{HELP DEL}.
        """
        from kvtwist.commands import TABLE
        lines = self.help(b"HELP SET")
        self.assertEqual(lines[:2], [TABLE[b"SET"].syntax,
                                     "  " + TABLE[b"SET"].summary])
        self.assertIn("rest of the line", "\n".join(lines))
        self.assertEqual(self.help(b"help remove")[0],
                         TABLE[b"DEL"].syntax)

    def test_ping(self):
        """
        C{HELP PING} says that a bare PING line answers +PONG.
        """
        body = "\n".join(self.help(b"HELP PING"))
        self.assertIn("bare PING line is answered +PONG", body)

    def test_unknown(self):
        """
        C{HELP} of an unknown command is one error line.
        """
        self.assertEqual(self.help(b"HELP FROB"),
                         ["ERR unknown command 'FROB'. Try HELP.", ""])
