"""
Tests for L{kvtwist.replies}: the neutral replies, as each dialect renders
them.
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.dialects import jsonlines, resp, text
from kvtwist.replies import NULL_ARRAY, PLAIN


class NullArrayTests(SynchronousTestCase):
    """
    L{NULL_ARRAY}, the reply of C{LPOP key count} for a missing key.
    """

    def test_resp(self):
        """
        RESP2 renders it C{*-1} (a null bulk is C{$-1}), RESP3 as a null.
        """
        self.assertEqual(resp.render(NULL_ARRAY, 2), b"*-1\r\n")
        self.assertEqual(resp.render(NULL_ARRAY, 3), b"_\r\n")
        self.assertEqual(resp.render([NULL_ARRAY], 2), b"*1\r\n*-1\r\n")

    def test_otherDialects(self):
        """
        Dialects without the distinction show a null.
        """
        request = text.parse(b"LPOP k 2")
        self.assertEqual(text.render(request, NULL_ARRAY),
                         text.render(request, None))
        self.assertEqual(jsonlines._json(NULL_ARRAY), None)

    def test_plain(self):
        """
        It is a plain reply (never a Deferred), and false.
        """
        self.assertIn(type(NULL_ARRAY), PLAIN)
        self.assertFalse(NULL_ARRAY)
