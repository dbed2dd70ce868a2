"""
Tests for L{kvtwist.dialects.text}: parsing lines and rendering replies
(the protocol-level behaviour is in L{kvtwist.test.test_protocol}).
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.dialects import text
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
        Plain, spaced, quoted and oddly separated lines.
        """
        cases = [
            (b"SET k v", [b"k", b"v", b"GET"]),
            (b"set k v", [b"k", b"v", b"GET"]),
            (b"SET msg don't panic", [b"msg", b"don't panic", b"GET"]),
            (b"SET k  v", [b"k", b" v", b"GET"]),
            (b"SET k v ", [b"k", b"v ", b"GET"]),
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
