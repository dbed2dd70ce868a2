"""
Tests for L{kvtwist.replies}: the neutral replies, as each dialect renders
them.
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.dialects import jsonlines, resp, text
from kvtwist.replies import NULL_ARRAY, PLAIN, Later


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


class LaterTests(SynchronousTestCase):
    """
    L{Later}: a reply that comes later, to one receiver.
    """

    def test_receiverFirst(self):
        """
        A receiver set before the reply comes is called when it does, once.
        """
        later, got = Later(), []
        later.then(got.append)
        self.assertEqual((got, later.done), ([], False))
        later.fire(b"v")
        self.assertEqual((got, later.done), ([b"v"], True))

    def test_replyFirst(self):
        """
        A reply that came before its receiver is given to it at once.
        """
        later, got = Later(), []
        later.fire(None)
        later.then(got.append)
        self.assertEqual(got, [None])

    def test_asDeferred(self):
        """
        L{Later.asDeferred} gives a Deferred firing with the reply, before
        or after it came.
        """
        later = Later()
        d = later.asDeferred()
        self.assertNoResult(d)
        later.fire(3)
        self.assertEqual(self.successResultOf(d), 3)
        done = Later()
        done.fire(4)
        self.assertEqual(self.successResultOf(done.asDeferred()), 4)

    def test_notPlain(self):
        """
        It is not a plain reply: connections queue it.
        """
        self.assertNotIn(Later, PLAIN)

