"""
Tests for the sorted set commands (L{kvtwist.commands.zsets}): options,
ranges, reply shapes in RESP2 and RESP3, and Redis's error texts (checked
against redis-server 7.0).
"""

from kvtwist.replies import NULL_ARRAY, Error
from kvtwist.test.test_commands_hashes import FamilyTestCase

INF = float("inf")


class SortedSetCommandTests(FamilyTestCase):
    """
    ZADD and friends.
    """

    def test_zadd(self):
        """
        ZADD with NX, XX, GT, LT, CH and INCR; Redis's errors for the
        combinations it refuses and for a score that is not a number.
        """
        self.assertEqual(self.call("ZADD", "z", "1", "a", "2", "b"), 2)
        self.assertEqual(self.call("ZADD", "z", "NX", "5", "a", "3", "c"), 1)
        self.assertEqual(self.call("ZSCORE", "z", "a"), 1.0)
        self.assertEqual(self.call("ZADD", "z", "XX", "CH", "5", "a", "4",
                                   "d"), 1)
        self.assertEqual(self.call("ZADD", "z", "GT", "CH", "1", "a"), 0)
        self.assertEqual(self.call("ZADD", "z", "LT", "CH", "1", "a"), 1)
        self.assertEqual(self.call("ZADD", "z", "INCR", "2.5", "a"), 3.5)
        self.assertIsNone(self.call("ZADD", "z", "NX", "INCR", "1", "a"))
        self.assertIsNone(self.call("ZADD", "z", "GT", "INCR", "-1", "a"))
        self.assertEqual(self.call("ZADD", "z", "inf", "i", "-inf", "j"), 2)
        for words, text in [
                (["XX", "NX", "1", "a"], "ERR XX and NX options at the same "
                 "time are not compatible"),
                (["GT", "LT", "1", "a"], "ERR GT, LT, and/or NX options at "
                 "the same time are not compatible"),
                (["NX", "GT", "1", "a"], "ERR GT, LT, and/or NX options at "
                 "the same time are not compatible"),
                (["INCR", "1", "a", "2", "b"], "ERR INCR option supports a "
                 "single increment-element pair"),
                (["1", "a", "2"], "ERR syntax error"),
                (["1", "a", "nan", "b"], "ERR value is not a valid float"),
                (["1", "a", "x", "b"], "ERR value is not a valid float")]:
            self.assertEqual(self.call("ZADD", "z", *words), Error(text))
        self.assertEqual(self.call("ZSCORE", "z", "b"), 2.0)
        self.assertEqual(self.call("ZINCRBY", "z", "-inf", "i"),
                         Error("ERR resulting score is not a number (NaN)"))

    def test_doubles(self):
        """
        Scores are RESP3 doubles and RESP2 bulk strings, written as Redis
        7.2 writes them.
        """
        self.call("ZADD", "z", "1", "a", "0.1", "b", "inf", "c")
        self.assertEqual(self.wire(3, "ZSCORE", "z", "a"), b",1\r\n")
        self.assertEqual(self.wire(2, "ZSCORE", "z", "b"), b"$3\r\n0.1\r\n")
        self.assertEqual(self.wire(3, "ZSCORE", "z", "c"), b",inf\r\n")
        self.assertEqual(self.wire(2, "ZSCORE", "z", "zz"), b"$-1\r\n")
        self.assertEqual(self.wire(3, "ZMSCORE", "z", "a", "zz"),
                         b"*2\r\n,1\r\n_\r\n")
        self.assertEqual(self.wire(2, "ZINCRBY", "z", "1.5", "a"),
                         b"$3\r\n2.5\r\n")

    def test_withScores(self):
        """
        WITHSCORES: a flat array in RESP2, pairs in RESP3; ZPOPMIN without
        a count is flat in both, with a count pairs in RESP3.
        """
        self.call("ZADD", "z", "1", "a", "2", "b")
        self.assertEqual(self.wire(2, "ZRANGE", "z", "0", "0", "WITHSCORES"),
                         b"*2\r\n$1\r\na\r\n$1\r\n1\r\n")
        self.assertEqual(self.wire(3, "ZRANGE", "z", "0", "0", "WITHSCORES"),
                         b"*1\r\n*2\r\n$1\r\na\r\n,1\r\n")
        self.assertEqual(self.wire(3, "ZPOPMIN", "z"),
                         b"*2\r\n$1\r\na\r\n,1\r\n")
        self.assertEqual(self.wire(3, "ZPOPMAX", "z", "1"),
                         b"*1\r\n*2\r\n$1\r\nb\r\n,2\r\n")
        self.assertEqual(self.wire(3, "ZPOPMAX", "z", "1"), b"*0\r\n")
        self.assertEqual(self.call("ZPOPMIN", "z", "-1"), Error(
            "ERR value is out of range, must be positive"))

    def test_ranges(self):
        """
        ZRANGE by rank, BYSCORE (exclusive ends, infinities), BYLEX, REV,
        LIMIT, and the legacy forms; Redis's errors.
        """
        self.call("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
        self.assertEqual(self.call("ZRANGE", "z", "1", "-2"), [b"b", b"c"])
        self.assertEqual(self.call("ZRANGE", "z", "0", "1", "REV"),
                         [b"d", b"c"])
        self.assertEqual(self.call("ZREVRANGE", "z", "0", "0"), [b"d"])
        self.assertEqual(self.call("ZRANGE", "z", "(1", "+inf", "BYSCORE",
                                   "LIMIT", "1", "5"), [b"c", b"d"])
        self.assertEqual(self.call("ZRANGE", "z", "+inf", "(1", "BYSCORE",
                                   "REV", "LIMIT", "0", "2"), [b"d", b"c"])
        self.assertEqual(self.call("ZRANGEBYSCORE", "z", "-inf", "(3"),
                         [b"a", b"b"])
        self.assertEqual(self.call("ZREVRANGEBYSCORE", "z", "3", "2",
                                   "WITHSCORES"), [b"c", 3.0, b"b", 2.0])
        self.assertEqual(self.call("ZCOUNT", "z", "(1", "3"), 2)
        self.call("ZADD", "l", "0", "a", "0", "b", "0", "c")
        self.assertEqual(self.call("ZRANGE", "l", "[b", "+", "BYLEX"),
                         [b"b", b"c"])
        self.assertEqual(self.call("ZRANGEBYLEX", "l", "(a", "[b"), [b"b"])
        self.assertEqual(self.call("ZREVRANGEBYLEX", "l", "+", "-", "LIMIT",
                                   "1", "1"), [b"b"])
        self.assertEqual(self.call("ZLEXCOUNT", "l", "-", "(c"), 2)
        for words, text in [
                (["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"],
                 "ERR syntax error, LIMIT is only supported in combination "
                 "with either BYSCORE or BYLEX"),
                (["ZRANGE", "l", "-", "+", "BYLEX", "WITHSCORES"],
                 "ERR syntax error, WITHSCORES not supported in combination "
                 "with BYLEX"),
                (["ZRANGEBYSCORE", "z", "a", "b"],
                 "ERR min or max is not a float"),
                (["ZCOUNT", "z", "(1", "x"], "ERR min or max is not a float"),
                (["ZRANGEBYLEX", "l", "a", "b"],
                 "ERR min or max not valid string range item"),
                (["ZRANGE", "z", "0", "-1", "BYSCORE", "BYLEX"],
                 "ERR syntax error"),
                (["ZRANGEBYSCORE", "z", "0", "1", "LIMIT", "0"],
                 "ERR syntax error"),
                (["ZRANGE", "z", "x", "1"],
                 "ERR value is not an integer or out of range")]:
            self.assertEqual(self.call(*words), Error(text))

    def test_rank(self):
        """
        ZRANK and ZREVRANK, with WITHSCORE (Redis 7.2).
        """
        self.call("ZADD", "z", "1", "a", "2", "b")
        self.assertEqual(self.call("ZRANK", "z", "b"), 1)
        self.assertEqual(self.call("ZREVRANK", "z", "b"), 0)
        self.assertEqual(self.call("ZRANK", "z", "b", "WITHSCORE"), [1, 2.0])
        self.assertIsNone(self.call("ZRANK", "z", "x"))
        self.assertIs(self.call("ZRANK", "z", "x", "WITHSCORE"), NULL_ARRAY)
        self.assertEqual(self.call("ZRANK", "z", "b", "x"),
                         Error("ERR syntax error"))

    def test_removeRanges(self):
        """
        ZREMRANGEBYRANK, BYSCORE and BYLEX; an emptied sorted set is gone;
        each is journaled as the ranks it removed.
        """
        self.call("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
        self.assertEqual(self.call("ZREMRANGEBYRANK", "z", "0", "0"), 1)
        self.assertEqual(self.call("ZREMRANGEBYSCORE", "z", "(2", "3"), 1)
        self.assertEqual(self.call("ZRANGE", "z", "0", "-1"), [b"b", b"d"])
        self.assertEqual(self.ops[-1], (b"ZREMRANGEBYRANK", b"z", b"1",
                                        b"1"))
        self.assertEqual(self.call("ZREMRANGEBYLEX", "z", "-", "+"), 2)
        self.assertEqual(self.call("EXISTS", "z"), 0)

    def test_unionInter(self):
        """
        ZUNIONSTORE and ZINTERSTORE with WEIGHTS and AGGREGATE, sets as
        inputs at score 1, and Redis's errors.
        """
        self.call("ZADD", "a", "1", "x", "2", "y")
        self.call("ZADD", "b", "10", "y", "20", "z")
        self.call("SADD", "s", "y")
        self.assertEqual(self.call("ZUNIONSTORE", "u", "2", "a", "b"), 3)
        self.assertEqual(self.call("ZRANGE", "u", "0", "-1", "WITHSCORES"),
                         [b"x", 1.0, b"y", 12.0, b"z", 20.0])
        self.assertEqual(self.call("ZINTERSTORE", "i", "3", "a", "b", "s",
                                   "WEIGHTS", "1", "2", "3", "AGGREGATE",
                                   "MAX"), 1)
        self.assertEqual(self.call("ZRANGE", "i", "0", "-1", "WITHSCORES"),
                         [b"y", 20.0])
        self.assertEqual(self.call("ZUNIONSTORE", "u", "1", "a", "AGGREGATE",
                                   "MIN"), 2)
        self.assertEqual(self.call("ZINTERSTORE", "i", "2", "a", "missing"),
                         0)
        self.assertEqual(self.call("EXISTS", "i"), 0)
        self.call("ZADD", "p", "inf", "m")
        self.call("ZADD", "q", "-inf", "m")
        self.call("ZUNIONSTORE", "n", "2", "p", "q")
        self.assertEqual(self.call("ZSCORE", "n", "m"), 0.0)
        self.call("SET", "str", "v")
        for words, text in [
                (["u", "0", "a"], "ERR at least 1 input key is needed for "
                 "'zunionstore' command"),
                (["u", "2", "a"], "ERR syntax error"),
                (["u", "1", "a", "WEIGHTS", "x"],
                 "ERR weight value is not a float"),
                (["u", "1", "a", "AGGREGATE", "avg"], "ERR syntax error"),
                (["u", "1", "a", "WITHSCORES"], "ERR syntax error")]:
            self.assertEqual(self.call("ZUNIONSTORE", *words), Error(text))
        self.assertEqual(self.call("ZUNIONSTORE", "u", "2", "a", "str")
                         .split(" ")[0], "WRONGTYPE")

    def test_rangestore(self):
        """
        ZRANGESTORE stores a range (deleting the destination for an empty
        one) and refuses WITHSCORES.
        """
        self.call("ZADD", "z", "1", "a", "2", "b", "3", "c")
        self.assertEqual(self.call("ZRANGESTORE", "d", "z", "(1", "+inf",
                                   "BYSCORE"), 2)
        self.assertEqual(self.call("ZRANGE", "d", "0", "-1", "WITHSCORES"),
                         [b"b", 2.0, b"c", 3.0])
        self.assertEqual(self.call("ZRANGESTORE", "d", "z", "5", "9"), 0)
        self.assertEqual(self.call("EXISTS", "d"), 0)
        self.assertEqual(self.call("ZRANGESTORE", "d", "z", "0", "1",
                                   "WITHSCORES"), Error("ERR syntax error"))

    def test_scanAndCard(self):
        """
        ZSCAN gives scores as strings (in RESP3 too, as Redis); ZCARD,
        ZREM.
        """
        self.call("ZADD", "z", "1.5", "a", "2", "b")
        self.assertEqual(self.call("ZSCAN", "z", "0"),
                         [b"0", [b"a", b"1.5", b"b", b"2"]])
        self.assertEqual(self.call("ZSCAN", "z", "0", "MATCH", "b"),
                         [b"0", [b"b", b"2"]])
        self.assertEqual(self.call("ZCARD", "z"), 2)
        self.assertEqual(self.call("ZREM", "z", "a", "x"), 1)
        self.assertEqual(self.call("TYPE", "z"), "zset")
        self.call("SET", "s", "v")
        self.assertEqual(self.call("ZCARD", "s").split(" ")[0], "WRONGTYPE")


class GenericCommandTests(FamilyTestCase):
    """
    The generic commands on hashes, sets and sorted sets.
    """

    def test_generic(self):
        """
        TYPE, EXISTS, KEYS, SCAN, RENAME, EXPIRE/TTL and DEL treat the new
        types as any key; an expired one is gone for their commands too.
        """
        self.call("HSET", "h", "f", "v")
        self.call("SADD", "s", "m")
        self.call("ZADD", "z", "1", "m")
        self.assertEqual([self.call("TYPE", k) for k in ("h", "s", "z")],
                         ["hash", "set", "zset"])
        self.assertEqual(self.call("EXISTS", "h", "s", "z", "nope"), 3)
        self.assertEqual(sorted(self.call("KEYS", "*")), [b"h", b"s", b"z"])
        self.assertEqual(sorted(self.call("SCAN", "0")[1]),
                         [b"h", b"s", b"z"])
        self.assertEqual(self.call("RENAME", "z", "z2"), "OK")
        self.assertEqual(self.call("ZSCORE", "z2", "m"), 1.0)
        self.assertEqual(self.call("EXPIRE", "s", "10"), 1)
        self.assertEqual(self.call("TTL", "s"), 10)
        self.clock.now += 10001
        self.assertEqual(self.call("SCARD", "s"), 0)
        self.assertEqual(self.call("TYPE", "s"), "none")
        self.assertEqual(self.call("DEL", "h", "z2", "s"), 2)
        self.assertEqual(self.call("KEYS", "*"), [])

    def test_moveAndValueTypes(self):
        """
        MOVE takes the new types to another database, COPY copies them
        independently, OBJECT ENCODING names Redis's encoding, SCAN TYPE
        knows their names.
        """
        from kvtwist.store import hashes, sets, zsets
        self.call("HSET", "h", "f", "v")
        self.call("SADD", "s", "1", "2")
        self.call("ZADD", "z", "1", "m")
        for kind, key, change, encoding in [
                (hashes.TYPE, b"h", lambda v: v.update({b"f": b"w"}),
                 "listpack"),
                (sets.TYPE, b"s", lambda v: v.add(b"3"), "intset"),
                (zsets.TYPE, b"z", lambda v: v.put(b"m", 5.0), "listpack")]:
            value = self.store._data[key]
            before = kind.plain(value)
            copied = kind.copy(value)
            self.assertIs(type(copied), kind.pythonType)
            change(copied)
            self.assertEqual(kind.plain(value), before)
            self.assertEqual(kind.encoding(value), encoding)
        self.assertEqual([self.call("OBJECT", "ENCODING", k)
                          for k in ("h", "s", "z")],
                         [b"listpack", b"intset", b"listpack"])
        self.assertEqual(self.call("COPY", "z", "z2"), 1)
        self.call("ZADD", "z2", "5", "m")
        self.assertEqual(self.call("ZSCORE", "z", "m"), 1.0)
        self.assertEqual(sorted(self.call("SCAN", "0", "TYPE", "zset")[1]),
                         [b"z", b"z2"])
        self.assertEqual(self.call("MOVE", "s", "1"), 1)
        self.assertEqual(self.call("EXISTS", "s"), 0)
        self.call("SELECT", "1")
        self.assertEqual(sorted(self.call("SMEMBERS", "s")), [b"1", b"2"])
