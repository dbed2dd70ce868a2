# -*- test-case-name: kvtwist.test.test_cluster_backend -*-
"""
Commands that concern every key rather than some, run on every primary
and their replies joined: C{KEYS}, C{DBSIZE}, C{FLUSHDB}/C{FLUSHALL},
C{RANDOMKEY}, C{LASTSAVE}, commands whose Redis tips say so (C{SCRIPT
LOAD} on every node...); C{SCAN} one primary after another, with a cursor
that says which; and kvtwist's C{PRINT}, which pages through C{SCAN}.
"""

import random
from typing import Callable, List, Optional

from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.internet.defer import returnValue

from kvtwist.backends.cluster.slots import SLOTS
from kvtwist.replies import OK, SYNTAX, Error

#: Keys asked of a node per C{SCAN} step of C{PRINT}.
PRINT_BATCH = 1000


def gather(deferreds: List[Deferred]) -> Deferred:
    """
    A Deferred firing with the results of C{deferreds} (which never fail)
    in their order.
    """
    return gatherResults(deferreds, consumeErrors=True)


def firstError(replies: list) -> Optional[Error]:
    """
    The first error among C{replies}, or L{None}.
    """
    for reply in replies:
        if reply.__class__ is Error:
            return reply
    return None


class FanOut:
    """
    Runs commands on every primary of a router's cluster.

    @ivar router: the L{kvtwist.backends.cluster.router.Router}.
    """

    def __init__(self, router, rng: Optional[random.Random] = None):
        self.router = router
        self._rng = rng or random.Random()

    def _primaries(self):
        """
        The primaries, once a slot table is known.
        """
        return self.router.whenTable().addCallback(
            lambda _: self.router.primaries())

    def onEachPrimary(self, argv: List[bytes], write: bool = False,
                      nodes: Optional[str] = None) -> Deferred:
        """
        Run C{argv} on every primary (every node, replicas too, when
        C{nodes} is C{"all"}); fire with the list of their replies, or an
        error reply if no node is known.
        """
        router = self.router

        def run(primaries):
            if not primaries:
                return Error("ERR backend unavailable: %s"
                             % (router.lastRefreshError or
                                "no slot table yet",))
            targets = [n.address for n in primaries]
            if nodes == "all" and router.table is not None:
                targets = router.table.allAddresses()
            return gather([router.sendToNode(a, argv, write)
                           for a in targets])
        return self._primaries().addCallback(run)

    def combine(self, argv: List[bytes], how: Callable, write: bool = False,
                nodes: Optional[str] = None) -> Deferred:
        """
        L{onEachPrimary}, then C{how(replies)} unless one is an error.
        """
        def joined(replies):
            if replies.__class__ is Error:
                return replies
            error = firstError(replies)
            return error if error is not None else how(replies)
        return self.onEachPrimary(argv, write, nodes).addCallback(joined)

    # -- the commands ------------------------------------------------------

    def keys(self, argv: List[bytes]) -> Deferred:
        """
        C{KEYS pattern}: every primary's, together.
        """
        return self.combine(argv, lambda replies: [
            k for reply in replies for k in reply])

    def dbsize(self, argv: List[bytes]) -> Deferred:
        """
        C{DBSIZE}: the sum over the primaries.
        """
        return self.combine(argv, sum)

    def flush(self, argv: List[bytes]) -> Deferred:
        """
        C{FLUSHDB}/C{FLUSHALL} (and kvtwist's C{FLUSH}) on every primary:
        C{OK} once all did.
        """
        args = argv[1:]
        if args and (len(args) > 1 or
                     args[0].upper() not in (b"SYNC", b"ASYNC")):
            return _now(SYNTAX)
        return self.combine([b"FLUSHALL"] + args, lambda replies: OK,
                            write=True)

    def lastsave(self, argv: List[bytes]) -> Deferred:
        """
        C{LASTSAVE}: the oldest of the primaries' (by then every node had
        saved).
        """
        return self.combine(argv, min)

    @inlineCallbacks
    def randomkey(self, argv: List[bytes]):
        """
        C{RANDOMKEY}: from a primary at random; the next one if it has no
        key.
        """
        primaries = yield self._primaries()
        if not primaries:
            returnValue(Error("ERR backend unavailable: no slot table yet"))
        primaries = list(primaries)
        self._rng.shuffle(primaries)
        for node in primaries:
            reply = yield self.router.sendToNode(node.address, argv)
            if reply is not None:
                returnValue(reply)
        returnValue(None)

    def byPolicy(self, argv: List[bytes], request: str, response: str,
                 write: bool) -> Deferred:
        """
        A command Redis tips as run on every shard or node
        (C{request_policy:all_shards} or C{all_nodes}), its replies joined
        as its C{response_policy} says; without one, arrays are joined and
        anything else must agree.
        """
        joiners = {
            "agg_sum": sum,
            "agg_min": min,
            "agg_max": max,
            "agg_logical_and": lambda rs: _logical(rs, all),
            "agg_logical_or": lambda rs: _logical(rs, any),
            "all_succeeded": lambda rs: rs[0],
            "one_succeeded": lambda rs: rs[0],
        }
        how = joiners.get(response, _joinOrAgree)
        nodes = "all" if request == "all_nodes" else None
        if response == "one_succeeded":
            def anyOk(replies):
                if replies.__class__ is Error:
                    return replies
                for reply in replies:
                    if reply.__class__ is not Error:
                        return reply
                return replies[0]
            return self.onEachPrimary(argv, write, nodes).addCallback(anyOk)
        return self.combine(argv, how, write, nodes)

    # -- SCAN ----------------------------------------------------------------

    def scan(self, argv: List[bytes]) -> Deferred:
        """
        C{SCAN cursor [MATCH p] [COUNT n] [TYPE t]}: one step on one
        primary.  The cursor the client sees is C{nodeCursor * 16384 +
        slot}, C{slot} being the lowest slot of the primary being scanned:
        any front end of the cluster can go on from it.  Once a primary's
        own cursor comes back to 0 the next primary (by lowest slot)
        starts; after the last, the cursor is 0.
        """
        try:
            cursor = int(argv[1])
        except ValueError:
            return _now(Error("ERR invalid cursor"))
        if cursor < 0:
            return _now(Error("ERR invalid cursor"))
        nodeCursor, slot = divmod(cursor, SLOTS)
        router = self.router

        def step(_):
            if router.table is None:
                return Error("ERR backend unavailable: %s" % (
                    router.lastRefreshError or "no slot table yet",))
            return router.send([argv[0], b"%d" % (nodeCursor,)] + argv[2:],
                               slot, False).addCallback(stepped)

        def stepped(reply):
            if reply.__class__ is not list or len(reply) != 2:
                return reply
            following = int(reply[0])
            if following:
                return [b"%d" % (following * SLOTS + slot,), reply[1]]
            return [b"%d" % (self._nextSlot(slot),), reply[1]]

        return router.whenTable().addCallback(step)

    def _nextSlot(self, slot: int) -> int:
        """
        The lowest slot of the primary after the one whose lowest slot is
        C{slot}, or 0 after the last.
        """
        table = self.router.table
        starts = sorted({table.lowestSlot(a)
                         for a in table.primaryAddresses()})
        for start in starts:
            if start > slot:
                return start
        return 0

    @inlineCallbacks
    def scanAll(self, pattern: bytes = b"*", count: int = PRINT_BATCH):
        """
        Every key, by C{SCAN} steps over every primary.

        @return: a Deferred firing with the keys, or with an error reply.
        """
        keys: List[bytes] = []
        cursor = b"0"
        while True:
            reply = yield self.scan([b"SCAN", cursor, b"MATCH", pattern,
                                     b"COUNT", b"%d" % (count,)])
            if reply.__class__ is not list:
                returnValue(reply)
            cursor = reply[0]
            keys.extend(reply[1])
            if cursor == b"0":
                returnValue(keys)

    @inlineCallbacks
    def print_(self, send: Callable):
        """
        kvtwist's C{PRINT}: every key and its value (a string as bytes, a
        list as a list, a hash as a dict, a set's members sorted, a sorted
        set's members by rank), paging through C{SCAN}.

        @param send: C{send(argv) -> Deferred}, routing by the key.
        """
        keys = yield self.scanAll()
        if keys.__class__ is Error:
            returnValue(keys)
        types = yield gather([send([b"TYPE", k]) for k in keys])
        error = firstError(types)
        if error is not None:
            returnValue(error)
        reads = {
            "string": lambda k: [b"GET", k],
            "list": lambda k: [b"LRANGE", k, b"0", b"-1"],
            "hash": lambda k: [b"HGETALL", k],
            "set": lambda k: [b"SMEMBERS", k],
            "zset": lambda k: [b"ZRANGE", k, b"0", b"-1"],
        }
        wanted = [(k, reads[t](k)) for k, t in zip(keys, types)
                  if t in reads]
        values = yield gather([send(argv) for _, argv in wanted])
        out = {}
        for (key, argv), value in zip(wanted, values):
            if value is None or value.__class__ is Error:
                continue  # gone, or changed type, meanwhile
            if argv[0] == b"SMEMBERS":
                value = sorted(value)
            out[key] = value
        returnValue(out)


def _now(reply) -> Deferred:
    d = Deferred()
    d.callback(reply)
    return d


def _logical(replies: list, join: Callable):
    if all(isinstance(r, list) for r in replies):
        return [int(join(column)) for column in zip(*replies)]
    return int(join(replies))


def _joinOrAgree(replies: list):
    if all(isinstance(r, list) for r in replies):
        return [item for r in replies for item in r]
    if all(r == replies[0] for r in replies):
        return replies[0]
    return Error("ERR the primaries answered differently: %s"
                 % (", ".join(repr(r)[:40] for r in replies),))
