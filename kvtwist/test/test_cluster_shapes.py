"""
Tests for L{kvtwist.backends.cluster.shapes}: a node's RESP3 reply shaped
as Redis shapes it for a RESP2 client.
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.backends.cluster.shapes import (
    shape, shapeExec, shortestDouble)
from kvtwist.dialects import resp
from kvtwist.replies import NULL_ARRAY, Error


class ShapeTests(SynchronousTestCase):
    """
    L{shape} and L{shapeExec}.
    """

    def test_nullArrays(self):
        """
        A missing list popped with a count, a blocking pop timing out:
        C{*-1} in RESP2; without a count, a null bulk.
        """
        self.assertIs(shape("LPOP", None, [b"k", b"2"], 2), NULL_ARRAY)
        self.assertIsNone(shape("LPOP", None, [b"k"], 2))
        self.assertIs(shape("BLPOP", None, [b"k", b"1"], 3), NULL_ARRAY)
        self.assertEqual(resp.render(shape("BRPOP", None, [b"k", b"1"], 2),
                                     2), b"*-1\r\n")

    def test_pairs(self):
        """
        WITHSCORES pairs: nested in RESP3, flat in RESP2.
        """
        nested = [[b"a", 1.0], [b"b", 2.5]]
        args = [b"z", b"0", b"-1", b"WITHSCORES"]
        self.assertEqual(shape("ZRANGE", nested, args, 3), nested)
        flat = shape("ZRANGE", nested, args, 2)
        self.assertEqual(flat, [b"a", b"1", b"b", b"2.5"])
        self.assertEqual(resp.render(flat, 2),
                         b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n"
                         b"$3\r\n2.5\r\n")
        self.assertEqual(shape("ZRANGE", [b"a", b"b"], args[:3], 2),
                         [b"a", b"b"])
        # ZMPOP and BZMPOP keep their pairs nested in RESP2 too, as
        # redis-server 7.0 sends them (*2 $1 z *2 *2 $1 a $1 1 ...).
        popped = shape("ZMPOP", [b"z", nested], [], 2)
        self.assertEqual(popped, [b"z", [[b"a", b"1"], [b"b", b"2.5"]]])
        self.assertEqual(resp.render(popped, 2),
                         b"*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\na\r\n"
                         b"$1\r\n1\r\n*2\r\n$1\r\nb\r\n$3\r\n2.5\r\n")
        self.assertEqual(shape("BZMPOP", [b"z", nested], [], 2),
                         [b"z", [[b"a", b"1"], [b"b", b"2.5"]]])
        self.assertIs(shape("BZMPOP", None, [], 2), NULL_ARRAY)

    def test_doubles(self):
        """
        Doubles in RESP2 are written as the node writes them: C{%.17g}
        before Redis 7.2, the shortest text after; RESP3 keeps them.
        """
        self.assertEqual(shape("ZSCORE", 0.1, [], 2), b"0.10000000000000001")
        self.assertEqual(shape("ZSCORE", 0.1, [], 2, shortestDouble),
                         b"0.1")
        self.assertEqual(shape("ZSCORE", 3.0, [], 2, shortestDouble), b"3")
        self.assertEqual(shape("ZSCORE", float("inf"), [], 2), b"inf")
        self.assertEqual(shape("GEODIST", 1.5, [], 3), 1.5)
        self.assertEqual(shape("INCRBYFLOAT", 1.5, [], 2), 1.5)

    def test_others(self):
        """
        Other commands and errors are left as they are.
        """
        self.assertEqual(shape("GET", None, [b"k"], 2), None)
        error = Error("WRONGTYPE x")
        self.assertIs(shape("ZRANGE", error, [], 2), error)

    def test_exec(self):
        """
        EXEC: aborted is a null array; each reply shaped as its command's.
        """
        self.assertIs(shapeExec(None, [], 2), NULL_ARRAY)
        queued = [[b"ZPOPMIN", b"z", b"2"], [b"LPOP", b"l", b"2"]]
        self.assertEqual(shapeExec([[[b"a", 1.0], [b"b", 2.0]], None],
                                   queued, 2),
                         [[b"a", b"1", b"b", b"2"], NULL_ARRAY])
