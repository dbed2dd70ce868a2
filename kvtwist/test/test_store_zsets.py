"""
Tests for L{kvtwist.store.zsets}: sorted sets, checked against a model (a
dict of member to score, sorted on demand) where it pays.
"""

import pickle

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.store import Store, WrongType
from kvtwist.store.errors import Refused
from kvtwist.store.zsets import LexRange, ScoreRange, ZSet, encoding
from kvtwist.test.properties import given, settings, st
from kvtwist.test.test_store import makeStore
from kvtwist.test.test_store_hashes import replayed

INF = float("inf")

members = st.sampled_from([b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"h"])
scores = st.one_of(st.integers(-3, 3).map(float),
                   st.sampled_from([INF, -INF, 0.5, -0.5]))

operations = st.lists(st.one_of(
    st.tuples(st.just("zadd"), st.lists(st.tuples(scores, members),
                                        min_size=1, max_size=4),
              st.sampled_from(["", "nx", "xx", "gt", "lt"])),
    st.tuples(st.just("zincrby"), scores, members),
    st.tuples(st.just("zrem"), st.lists(members, min_size=1, max_size=3)),
    st.tuples(st.just("zpop"), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("byRank"), st.integers(-5, 5), st.integers(-5, 5)),
    st.tuples(st.just("byScore"), scores, scores, st.booleans(),
              st.booleans())),
    max_size=25)


def ordered(model):
    """
    The model's C{(member, score)} pairs in Redis's order.
    """
    return sorted(model.items(), key=lambda kv: (kv[1], kv[0]))


def inRange(score, span: ScoreRange) -> bool:
    """
    Whether C{score} is in C{span}, by the definition.
    """
    above = score > span.min if span.minExclusive else score >= span.min
    below = score < span.max if span.maxExclusive else score <= span.max
    return above and below


class ModelTests(SynchronousTestCase):
    """
    The store's sorted set against a dict, over random operations.
    """

    def apply(self, store, model, op):
        """
        Run C{op} on both; check that they answer alike.
        """
        kind = op[0]
        if kind == "zadd":
            _, pairs, flag = op
            expected = 0
            for score, member in pairs:
                old = model.get(member)
                if old is None:
                    if flag != "xx":
                        model[member] = score
                        expected += 1
                elif flag == "nx" or (flag == "gt" and score <= old) or \
                        (flag == "lt" and score >= old):
                    continue
                else:
                    model[member] = score
            self.assertEqual(store.zadd(b"z", pairs, **(
                {flag: True} if flag else {})), expected)
        elif kind == "zincrby":
            _, incr, member = op
            new = model.get(member, 0.0) + incr
            if new != new:
                self.assertRaises(Refused, store.zincrby, b"z", incr, member)
            else:
                model[member] = new
                self.assertEqual(store.zincrby(b"z", incr, member), new)
        elif kind == "zrem":
            gone = [m for m in set(op[1]) if m in model]
            for m in gone:
                del model[m]
            self.assertEqual(store.zrem(b"z", list(set(op[1]))), len(gone))
        elif kind == "zpop":
            _, count, highest = op
            pairs = ordered(model)
            if highest:
                pairs.reverse()
            taken = pairs[:count]
            for m, _ in taken:
                del model[m]
            self.assertEqual(store.zpop(b"z", count, highest), taken)
        elif kind == "byRank":
            _, start, stop = op
            pairs = ordered(model)
            n = len(pairs)
            lo = max(0, start + n) if start < 0 else start
            hi = stop + n if stop < 0 else stop
            self.assertEqual(store.zrangeByRank(b"z", start, stop),
                             pairs[lo:hi + 1] if lo <= hi else [])
            self.assertEqual(store.zrangeByRank(b"z", start, stop, True),
                             pairs[::-1][lo:hi + 1] if lo <= hi else [])
        elif kind == "byScore":
            _, a, b, ax, bx = op
            span = ScoreRange(min(a, b), max(a, b), ax, bx)
            inside = [(m, s) for m, s in ordered(model) if inRange(s, span)]
            self.assertEqual(store.zrangeByScore(b"z", span), inside)
            self.assertEqual(store.zrangeByScore(b"z", span, True),
                             inside[::-1])
            self.assertEqual(store.zrangeByScore(b"z", span, False, 1, 2),
                             inside[1:3])
            self.assertEqual(store.zrangeByScore(b"z", span, True, 1, 2),
                             inside[::-1][1:3])
            self.assertEqual(store.zcount(b"z", span), len(inside))
            before = len(model)
            removed = store.zremrangeByScore(b"z", span)
            for m, _ in inside:
                del model[m]
            self.assertEqual(removed, before - len(model))

    @settings(max_examples=200, deadline=None)
    @given(operations)
    def test_againstModel(self, ops):
        """
        After every operation, the members in order, their ranks and
        scores are the model's; an emptied sorted set is gone; replaying
        the journal gives the same sorted set.
        """
        store, _, journal = makeStore()
        model = {}
        for op in ops:
            self.apply(store, model, op)
            pairs = ordered(model)
            self.assertEqual(store.zrangeByRank(b"z", 0, -1), pairs)
            self.assertEqual(store.zcard(b"z"), len(model))
            self.assertEqual(store.exists(b"z"), bool(model))
            for rank, (member, score) in enumerate(pairs):
                self.assertEqual(store.zrank(b"z", member), (rank, score))
                self.assertEqual(store.zrank(b"z", member, True),
                                 (len(pairs) - 1 - rank, score))
        self.assertEqual(replayed(journal).contents(), store.contents())


class SortedSetTests(SynchronousTestCase):
    """
    The rest: lex ranges, NaN, STORE, snapshots, types, encodings.
    """

    def test_lex(self):
        """
        Lex ranges over members of one score: C{[}, C{(}, C{-}, C{+}, and
        the empty ones.
        """
        store, _, _ = makeStore()
        store.zadd(b"z", [(0.0, m) for m in (b"a", b"b", b"c", b"d")])

        def lex(lo, hi, loX=False, hiX=False, nothing=False):
            return [m for m, _ in store.zrangeByLex(
                b"z", LexRange(lo, hi, loX, hiX, nothing))]
        self.assertEqual(lex(None, None), [b"a", b"b", b"c", b"d"])
        self.assertEqual(lex(b"b", b"c"), [b"b", b"c"])
        self.assertEqual(lex(b"b", b"c", True), [b"c"])
        self.assertEqual(lex(b"b", b"c", False, True), [b"b"])
        self.assertEqual(lex(b"bb", None), [b"c", b"d"])
        self.assertEqual(lex(b"c", b"b"), [])
        self.assertEqual(lex(None, None, nothing=True), [])
        self.assertEqual(store.zlexcount(b"z", LexRange(b"b", None)), 3)
        self.assertEqual(
            store.zremrangeByLex(b"z", LexRange(None, b"b", False, True)), 1)
        self.assertEqual([m for m, _ in store.zrangeByRank(b"z", 0, -1)],
                         [b"b", b"c", b"d"])

    def test_nan(self):
        """
        C{inf + -inf} is refused with Redis's text, and changes nothing.
        """
        store, _, _ = makeStore()
        store.zadd(b"z", [(INF, b"a")])
        e = self.assertRaises(Refused, store.zincrby, b"z", -INF, b"a")
        self.assertEqual(e.text, "ERR resulting score is not a number (NaN)")
        self.assertEqual(store.zscore(b"z", b"a"), INF)

    def test_store(self):
        """
        C{zstore} replaces a key of any type by a sorted set, or deletes it
        for an empty result; journaled as one op.
        """
        store, _, ops = makeStore()
        store.set(b"d", b"v")
        self.assertEqual(store.zstore(b"d", [(b"x", 1.5), (b"y", -INF)]), 2)
        self.assertEqual(store.zrangeByRank(b"d", 0, -1),
                         [(b"y", -INF), (b"x", 1.5)])
        self.assertEqual(ops[-1][:2], (b"ZSTORE", b"d"))
        self.assertEqual(store.zstore(b"d", []), 0)
        self.assertFalse(store.exists(b"d"))
        self.assertEqual(replayed(ops).contents(), store.contents())

    def test_scoresOf(self):
        """
        The inputs of ZUNIONSTORE: a sorted set's scores, a set's members
        at score 1, nothing for a missing key, WRONGTYPE otherwise.
        """
        store, _, _ = makeStore()
        store.zadd(b"z", [(2.0, b"a")])
        store.sadd(b"s", [b"b"])
        store.set(b"str", b"x")
        self.assertEqual(store.zscoresOf(b"z"), {b"a": 2.0})
        self.assertEqual(store.zscoresOf(b"s"), {b"b": 1.0})
        self.assertIsNone(store.zscoresOf(b"missing"))
        self.assertRaises(WrongType, store.zscoresOf, b"str")

    def test_snapshot(self):
        """
        A sorted set pickles as its scores and loads whole, order rebuilt.
        """
        store, _, _ = makeStore()
        store.zadd(b"z", [(float(i % 7), b"m%d" % i) for i in range(300)])
        copy = Store(lambda: 1000000.0)
        copy.loadState(*pickle.loads(pickle.dumps(store.dumpState())))
        self.assertEqual(copy.zrangeByRank(b"z", 0, -1),
                         store.zrangeByRank(b"z", 0, -1))
        self.assertEqual(copy.zrank(b"z", b"m7"), store.zrank(b"z", b"m7"))
        copy.zadd(b"z", [(-1.0, b"first")])
        self.assertEqual(copy.zrangeByRank(b"z", 0, 0), [(b"first", -1.0)])

    def test_wrongType(self):
        """
        Sorted set operations on another type raise L{WrongType}.
        """
        store, _, _ = makeStore()
        store.set(b"s", b"x")
        for call in (lambda: store.zadd(b"s", [(1.0, b"a")]),
                     lambda: store.zscore(b"s", b"a"),
                     lambda: store.zpop(b"s"),
                     lambda: store.zrangeByRank(b"s", 0, -1)):
            self.assertRaises(WrongType, call)

    def test_keyCreated(self):
        """
        The keyspace's C{keyCreated} hook hears of a sorted set (or list)
        appearing where there was nothing: what a blocked BZPOPMIN waits
        for; not of changes to one that exists.
        """
        store, _, _ = makeStore()
        created = []
        store.keyCreated = created.append
        store.zadd(b"z", [(1.0, b"a")])
        store.zadd(b"z", [(2.0, b"b")])
        store.zpop(b"z", 5)
        store.zadd(b"z", [(1.0, b"a")])
        store.push(b"l", [b"x"])
        self.assertEqual(created, [b"z", b"z", b"l"])

    def test_encoding(self):
        """
        A small sorted set of short members is a listpack, else a skiplist.
        """
        self.assertEqual(encoding(ZSet([(b"a", 1.0)])), "listpack")
        self.assertEqual(encoding(ZSet([(b"a" * 65, 1.0)])), "skiplist")
        self.assertEqual(encoding(ZSet((b"%d" % i, 0.0) for i in range(129))),
                         "skiplist")
