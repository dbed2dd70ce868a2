"""
Tests for L{kvtwist.backends.cluster.specs}: where a command's keys are,
from the nodes' C{COMMAND} reply (Redis 7's key specifications) or
kvtwist's table.
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.backends.cluster.specs import (
    CommandSpec, parseCommandReply)
from kvtwist.commands import TABLE
from kvtwist.replies import Status


def index(i):
    return {b"type": b"index", b"spec": {b"index": i}}


def keyword(word, start):
    return {b"type": b"keyword",
            b"spec": {b"keyword": word, b"startfrom": start}}


def rng(last, step=1, limit=0):
    return {b"type": b"range",
            b"spec": {b"lastkey": last, b"keystep": step, b"limit": limit}}


def keynum(idx, first, step=1):
    return {b"type": b"keynum",
            b"spec": {b"keynumidx": idx, b"firstkey": first,
                      b"keystep": step}}


UNKNOWN = {b"type": b"unknown", b"spec": {}}


def entry(name, arity, flags, legacy, specs, tips=(), subs=()):
    """
    One entry of a RESP3 C{COMMAND} reply, as Redis 7 gives it.
    """
    return [name, arity, [Status(f) for f in flags], legacy[0], legacy[1],
            legacy[2], [], list(tips),
            [{b"flags": [Status("RW")], b"begin_search": b,
              b"find_keys": f} for b, f in specs], list(subs)]


#: A few commands as Redis 7.0 describes them.
REPLY = [
    entry(b"get", 2, ["readonly", "fast"], (1, 1, 1), [(index(1), rng(0))]),
    entry(b"mset", -3, ["write", "denyoom"], (1, -1, 2),
          [(index(1), rng(-1, 2))],
          tips=[b"request_policy:multi_shard"]),
    entry(b"eval", -3, ["noscript", "no_mandatory_keys", "movablekeys"],
          (0, 0, 0), [(index(2), keynum(0, 1))]),
    entry(b"xread", -4, ["readonly", "blocking", "movablekeys"], (0, 0, 0),
          [(keyword(b"STREAMS", 1), rng(-1, 1, 2))]),
    entry(b"zunionstore", -4, ["write", "movablekeys"], (1, 1, 1),
          [(index(1), rng(0)), (index(2), keynum(0, 1))]),
    # BY/GET patterns and STORE's destination: "unknown" (Redis finds
    # them with a function of its own).
    entry(b"sort", -2, ["write", "movablekeys"], (1, 1, 1),
          [(index(1), rng(0)), (UNKNOWN, UNKNOWN), (UNKNOWN, UNKNOWN)]),
    entry(b"sort_ro", -2, ["readonly", "movablekeys"], (1, 1, 1),
          [(index(1), rng(0)), (UNKNOWN, UNKNOWN)]),
    entry(b"blmpop", -5, ["write", "blocking", "movablekeys"], (0, 0, 0),
          [(index(2), keynum(0, 1))]),
    entry(b"dbsize", 1, ["readonly", "fast"], (0, 0, 0), [],
          tips=[b"request_policy:all_shards", b"response_policy:agg_sum"]),
    entry(b"object", -2, [], (0, 0, 0), [], subs=[
        entry(b"object|encoding", 3, ["readonly"], (2, 2, 1),
              [(index(2), rng(0))])]),
    entry(b"weird", -2, ["movablekeys"], (0, 0, 0),
          [(UNKNOWN, rng(0))]),
]


def oldEntry(name, arity, flags, legacy):
    """
    One entry of C{COMMAND}'s reply as nodes older than Redis 7 give it:
    no key specifications, only C{movablekeys} among the flags.
    """
    return [name, arity, [Status(f) for f in flags]] + list(legacy)


#: Commands whose keys move, as a Redis 6 node describes them.
OLD_REPLY = [
    oldEntry(b"eval", -3, ["noscript", "movablekeys"], (0, 0, 0)),
    oldEntry(b"zunionstore", -4, ["write", "movablekeys"], (0, 0, 0)),
    oldEntry(b"zdiff", -3, ["readonly", "movablekeys"], (0, 0, 0)),
    oldEntry(b"zmpop", -4, ["write", "movablekeys"], (0, 0, 0)),
    oldEntry(b"bzmpop", -5, ["write", "blocking", "movablekeys"], (0, 0, 0)),
    oldEntry(b"xread", -4, ["readonly", "movablekeys"], (0, 0, 0)),
    oldEntry(b"xreadgroup", -7, ["write", "movablekeys"], (0, 0, 0)),
    oldEntry(b"sort", -2, ["write", "movablekeys"], (1, 1, 1)),
    oldEntry(b"migrate", -6, ["write", "movablekeys"], (0, 0, 0)),
]


class CommandSpecTests(SynchronousTestCase):
    """
    Keys found as Redis finds them.
    """

    def setUp(self):
        self.specs = parseCommandReply(REPLY)

    def keys(self, *argv):
        argv = [a.encode() if isinstance(a, str) else a for a in argv]
        return self.specs[argv[0].upper()].subcommand(argv).keys(argv)

    def test_flags(self):
        """
        Names, arity and flags.
        """
        get = self.specs[b"GET"]
        self.assertEqual((get.name, get.arity), ("get", 2))
        self.assertFalse(get.write)
        self.assertTrue(self.specs[b"MSET"].write)
        self.assertTrue(self.specs[b"XREAD"].blocking)
        self.assertTrue(get.arityFits(2))
        self.assertFalse(get.arityFits(3))
        self.assertTrue(self.specs[b"MSET"].arityFits(5))

    def test_range(self):
        """
        A range after an index.
        """
        self.assertEqual(self.keys("GET", "k"), [b"k"])
        self.assertEqual(self.keys("MSET", "a", "1", "b", "2"), [b"a", b"b"])

    def test_keynum(self):
        """
        A count of keys, then the keys.
        """
        self.assertEqual(self.keys("EVAL", "s", "2", "a", "b", "arg"),
                         [b"a", b"b"])
        self.assertEqual(self.keys("EVAL", "s", "0", "arg"), [])
        self.assertIsNone(self.keys("EVAL", "s", "x"))
        self.assertIsNone(self.keys("EVAL", "s", "5", "a"))
        self.assertEqual(self.keys("BLMPOP", "0", "2", "a", "b", "LEFT"),
                         [b"a", b"b"])

    def test_keyword(self):
        """
        A range after a keyword, limited to a part of what follows.
        """
        self.assertEqual(self.keys("XREAD", "COUNT", "2", "STREAMS", "s1",
                                   "s2", "0", "0"), [b"s1", b"s2"])
        self.assertEqual(self.keys("SORT", "k", "STORE", "d"), [b"k", b"d"])
        self.assertEqual(self.keys("SORT", "k"), [b"k"])

    def test_sort(self):
        """
        C{SORT}'s keys, which Redis marks "unknown": the key sorted and
        the destination of the last C{STORE}, the arguments of C{LIMIT},
        C{BY} and C{GET} skipped.
        """
        self.assertFalse(self.specs[b"SORT"].movable)
        self.assertEqual(self.keys("SORT", "k", "STORE", "d"), [b"k", b"d"])
        self.assertEqual(self.keys("SORT", "k"), [b"k"])
        self.assertEqual(self.keys("SORT", "k", "LIMIT", "0", "10", "ALPHA",
                                   "STORE", "a", "STORE", "b"),
                         [b"k", b"b"])
        self.assertEqual(self.keys("sort", "k", "get", "store", "by",
                                   "store", "desc"), [b"k"])
        self.assertEqual(self.keys("SORT_RO", "k", "BY", "w_*"), [b"k"])

    def test_severalSpecs(self):
        """
        Every spec's keys, in order.
        """
        self.assertEqual(self.keys("ZUNIONSTORE", "d", "2", "a", "b",
                                   "WEIGHTS", "1", "2"), [b"d", b"a", b"b"])

    def test_subcommand(self):
        """
        A container command's subcommand has its own keys.
        """
        self.assertEqual(self.keys("OBJECT", "ENCODING", "k"), [b"k"])
        self.assertEqual(self.keys("DBSIZE"), [])

    def test_unknownSpec(self):
        """
        A spec of a kind not known here: the keys can't be told here.
        """
        self.assertTrue(self.specs[b"WEIRD"].movable)
        self.assertIsNone(self.keys("WEIRD", "a"))

    def test_policy(self):
        """
        Redis's request and response policies.
        """
        self.assertEqual(self.specs[b"DBSIZE"].policy(),
                         ("all_shards", "agg_sum"))
        self.assertEqual(self.specs[b"GET"].policy(), ("", ""))

    def test_movableBeforeRedis7(self):
        """
        Nodes older than Redis 7 give no key specs: kvtwist knows where
        the keys of the commands whose keys move are (a count of keys
        then the keys, or after C{STREAMS}); those it doesn't know
        (C{MIGRATE}) are left to a node.
        """
        specs = parseCommandReply(OLD_REPLY)

        def keys(*argv):
            argv = [a.encode() for a in argv]
            return specs[argv[0].upper()].keys(argv)

        self.assertEqual(keys("EVAL", "s", "2", "a", "b", "x"), [b"a", b"b"])
        self.assertEqual(keys("ZUNIONSTORE", "d", "2", "a", "b",
                              "AGGREGATE", "MIN"), [b"d", b"a", b"b"])
        self.assertEqual(keys("ZDIFF", "2", "a", "b", "WITHSCORES"),
                         [b"a", b"b"])
        self.assertEqual(keys("ZMPOP", "1", "a", "MIN"), [b"a"])
        self.assertEqual(keys("BZMPOP", "0", "2", "a", "b", "MAX"),
                         [b"a", b"b"])
        self.assertEqual(keys("XREAD", "BLOCK", "0", "STREAMS", "a", "b",
                              "$", "$"), [b"a", b"b"])
        self.assertEqual(keys("XREADGROUP", "GROUP", "g", "c", "STREAMS",
                              "a", ">"), [b"a"])
        self.assertEqual(keys("SORT", "k", "STORE", "d"), [b"k", b"d"])
        self.assertIsNone(keys("MIGRATE", "h", "1", "", "0", "5", "KEYS",
                               "a"))

    def test_movableFromTable(self):
        """
        kvtwist's table has a first key, last key and step, which can't
        say where the keys of C{LMPOP} and its kin are: kvtwist's own
        knowledge of them does (the front end uses it until the nodes
        described their commands).
        """
        def keys(*argv):
            argv = [a.encode() for a in argv]
            return CommandSpec.fromTable(TABLE[argv[0].upper()]).keys(argv)

        self.assertEqual(keys("LMPOP", "2", "a", "b", "LEFT", "COUNT", "3"),
                         [b"a", b"b"])
        self.assertEqual(keys("BLMPOP", "0.5", "1", "a", "RIGHT"), [b"a"])
        self.assertEqual(keys("ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS",
                              "1", "2"), [b"d", b"a", b"b"])
        self.assertEqual(keys("ZINTERSTORE", "d", "1", "a"), [b"d", b"a"])
        self.assertEqual(keys("SINTERCARD", "2", "a", "b", "LIMIT", "1"),
                         [b"a", b"b"])
        self.assertIsNone(keys("LMPOP", "3", "a", "LEFT"))
        self.assertIsNone(keys("LMPOP", "x", "a", "LEFT"))

    def test_table(self):
        """
        kvtwist's table: first key, last key, step.
        """
        mset = CommandSpec.fromTable(TABLE[b"MSET"])
        argv = [b"MSET", b"a", b"1", b"b", b"2"]
        self.assertEqual(mset.keys(argv), [b"a", b"b"])
        self.assertTrue(mset.write)
        self.assertEqual(CommandSpec.fromTable(TABLE[b"PING"]).keys(
            [b"PING"]), [])
