"""
Tests for L{kvtwist.backends}: the memory backend, and the seam every caller
runs commands through (L{kvtwist.interfaces.IBackend}).
"""

import itertools

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from kvtwist import commands
from kvtwist.test import test_commands
from kvtwist.backends.memory import MemoryBackend
from kvtwist.commands import ClientState, Context
from kvtwist.dialects.resp import encodeCommand
from kvtwist.interfaces import IBackend
from kvtwist.replies import NO_REPLY, OK, Error, Later
from kvtwist.factory import Config, KVFactory
from kvtwist.stats import IBackendStats
from kvtwist.store import Store
from kvtwist.web.data import CommandFailed, WebData


class JournalService:
    """
    The parts of the store service the memory backend uses: a failure,
    durability waits, batch sealing.

    @ivar failure: the persistence failure, or L{None}.
    @ivar waiting: the Deferreds handed out by L{whenDurable}.
    @ivar sealed: how many times L{sealBatch} was called.
    """

    failure = None

    def __init__(self, always: bool = False):
        self.always = always
        self.waiting = []
        self.sealed = 0

    def whenDurable(self):
        if not self.always:
            return None
        d = Deferred()
        self.waiting.append(d)
        return d

    def journalSeq(self):
        return 0

    def groupSince(self, since):
        return 0

    def sealBatch(self):
        self.sealed += 1


class MemoryBackendTests(SynchronousTestCase):
    """
    L{MemoryBackend} runs the command table over a store and its journal.
    """

    def setUp(self):
        self.store = Store()
        self.service = JournalService()
        self.backend = MemoryBackend(self.store, self.service)
        self.ctx = Context(self.store, None, self.service, ClientState())

    def call(self, *words):
        """
        Run a command given as words.
        """
        return self.backend.execute(self.ctx, words[0], list(words[1:]))

    def test_interface(self):
        """
        It provides L{IBackend}.
        """
        self.assertTrue(verifyObject(IBackend, self.backend))

    def test_execute(self):
        """
        Commands run on the store, in any case, with Redis's errors for
        unknown commands and wrong arity.
        """
        self.assertEqual(self.call(b"set", b"k", b"v"), OK)
        self.assertEqual(self.store.get(b"k"), b"v")
        self.assertEqual(self.call(b"GET", b"k"), b"v")
        self.assertEqual(self.call(b"GET"), Error(
            "ERR wrong number of arguments for 'get' command"))
        self.assertTrue(self.call(b"NOSUCH").startswith(
            "ERR unknown command 'NOSUCH'"))

    def test_misconf(self):
        """
        While persistence fails, writes are refused with C{MISCONF} and
        change nothing; reads go on.
        """
        self.call(b"SET", b"k", b"v")
        self.service.failure = "disk full"
        reply = self.call(b"SET", b"k", b"w")
        self.assertIsInstance(reply, Error)
        self.assertTrue(reply.startswith("MISCONF "), reply)
        self.assertIn("disk full", reply)
        self.assertEqual(self.store.get(b"k"), b"v")
        self.assertEqual(self.call(b"GET", b"k"), b"v")

    def test_durable(self):
        """
        With C{--fsync always}, a write's reply waits until the service
        says its record is durable; reads answer at once.
        """
        self.service.always = True
        reply = self.call(b"SET", b"k", b"v")
        self.assertIsInstance(reply, Deferred)
        self.assertNoResult(reply)
        self.assertEqual(self.call(b"GET", b"k"), b"v")
        self.service.waiting[0].callback(None)
        self.assertEqual(self.successResultOf(reply), OK)

    def test_notDurable(self):
        """
        A write whose durability wait fails answers C{MISCONF} with the
        service's failure: the Deferred never fails.
        """
        self.service.always = True
        reply = self.call(b"SET", b"k", b"v")
        self.service.failure = "No space left on device"
        self.service.waiting[0].errback(OSError("ENOSPC"))
        error = self.successResultOf(reply)
        self.assertIsInstance(error, Error)
        self.assertTrue(error.startswith("MISCONF "), error)
        self.assertIn("No space left on device", error)

    def test_neverRaises(self):
        """
        A handler that raises, or whose Deferred fails, gives an error
        reply, and the failure is logged.
        """
        def broken(ctx, args):
            raise RuntimeError("boom")

        def brokenLater(ctx, args):
            return fail(RuntimeError("later"))

        for name, handler in [("BROKEN", broken), ("LATER", brokenLater)]:
            key = name.encode()
            commands.TABLE[key] = commands.Command(name, 1, handler)
            self.addCleanup(commands.TABLE.pop, key)
        self.assertEqual(self.call(b"BROKEN"),
                         "ERR internal error running 'broken'")
        self.assertEqual(self.successResultOf(self.call(b"LATER")),
                         "ERR internal error running 'later'")
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 2)

    def test_offload(self):
        """
        KEYS and PRINT on a store of more than C{OFFLOAD_KEYS} keys do
        their work through C{runInThread}, on the store as it was when
        they ran; at or under it, they answer at once.
        """
        from kvtwist.test.test_store import PendingRunner
        runner = PendingRunner()
        self.backend.runInThread = runner
        self.backend.OFFLOAD_KEYS = 3
        for i in range(3):
            self.store.set(b"k%d" % (i,), b"v")
        self.assertEqual(sorted(self.call(b"KEYS", b"*")),
                         [b"k0", b"k1", b"k2"])
        self.assertEqual(len(self.call(b"PRINT")), 3)
        self.store.set(b"k3", b"v")
        keys = self.call(b"KEYS", b"k[13]")
        printed = self.call(b"PRINT")
        self.store.delete(b"k1")
        self.assertNoResult(keys)
        self.assertNoResult(printed)
        runner.runAll()
        self.assertEqual(sorted(self.successResultOf(keys)), [b"k1", b"k3"])
        self.assertEqual(len(self.successResultOf(printed)), 4)

    def test_offloadFails(self):
        """
        O(store) work that fails, here or elsewhere, answers an error and
        is logged.
        """
        def broken(f, *args):
            return fail(RuntimeError("thread"))
        self.patch(self.store, "keysTask", lambda pattern: 1 / 0)
        self.assertEqual(self.call(b"KEYS", b"*"),
                         "ERR internal error running 'keys'")
        self.backend.runInThread = broken
        self.backend.OFFLOAD_KEYS = -1
        self.assertEqual(self.successResultOf(self.call(b"PRINT")),
                         "ERR internal error running 'print'")
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_endTurn(self):
        """
        L{MemoryBackend.endTurn} seals the journal's batch; without a
        service it does nothing.
        """
        self.backend.endTurn()
        self.assertEqual(self.service.sealed, 1)
        MemoryBackend(self.store).endTurn()


@implementer(IBackend)
class RecordingBackend:
    """
    A backend that records what it is asked and answers C{+OK}, or the
    echo of C{ECHO}'s argument.

    @ivar calls: C{(name, args)} of every L{execute}, and C{"end"} for
        every L{endTurn}.
    """

    def __init__(self):
        self.calls = []

    def execute(self, ctx, name, args):
        self.calls.append((name, args))
        if name.upper() == b"ECHO":
            return succeed(args[0])
        return OK

    def endTurn(self):
        self.calls.append("end")


class CallersTests(SynchronousTestCase):
    """
    Connections and the web interface run commands through the factory's
    backend, and nothing else.
    """

    def setUp(self):
        self.backend = RecordingBackend()
        clock = Clock()
        self.factory = KVFactory(Store(), None, Config(), clock=clock,
                                 backend=self.backend)

    def test_defaultBackend(self):
        """
        A factory given no backend runs a L{MemoryBackend} over its store
        and service.
        """
        store = Store()
        service = JournalService()
        factory = KVFactory(store, service, Config(), clock=Clock())
        self.assertIsInstance(factory.backend, MemoryBackend)
        self.assertIs(factory.backend.store, store)
        self.assertIs(factory.backend.service, service)

    def test_connection(self):
        """
        A connection executes each request of a read through the backend,
        in order, then ends the turn once; text lines too.
        """
        addr = IPv4Address("TCP", "127.0.0.1", 40000)
        proto = self.factory.buildProtocol(addr)
        transport = StringTransport(peerAddress=addr)
        proto.makeConnection(transport)
        proto.dataReceived(encodeCommand(b"SET", b"a", b"1") +
                           encodeCommand(b"ECHO", b"x"))
        self.assertEqual(self.backend.calls,
                         [(b"SET", [b"a", b"1"]), (b"ECHO", [b"x"]), "end"])
        self.assertEqual(transport.value(), b"+OK\r\n$1\r\nx\r\n")
        del self.backend.calls[:]
        proto.dataReceived(b"GET a\r\n")
        self.assertEqual(self.backend.calls, [(b"GET", [b"a"]), "end"])

    def test_web(self):
        """
        The web interface's changes run through the backend, each followed
        by the end of a turn; error replies fail the Deferred.
        """
        data = WebData(self.factory)
        self.assertEqual(self.successResultOf(data.run(b"DEL", b"k")), OK)
        self.assertEqual(self.backend.calls, [(b"DEL", [b"k"]), "end"])
        self.backend.execute = lambda ctx, name, args: Error("ERR no")
        self.failureResultOf(data.run(b"DEL", b"k"), CommandFailed)


@implementer(IBackend, IBackendStats)
class LaterBackend:
    """
    A backend that answers every command through a Deferred fired later
    by a clock, as a backend over a remote engine would.  The command runs
    at once on an inner backend (effects in request order); its reply
    comes after a delay, the delays cycling so that later requests are
    answered before earlier ones.

    @ivar executed: how many commands it was given.
    """

    def __init__(self, inner, clock, delays=(0.003, 0.001, 0.002),
                 lightly=False):
        """
        @param lightly: answer with a L{Later} rather than a Deferred where
            one may be used (not for a blocking command, nor
            L{NO_REPLY}, nor when the inner backend's reply is a Deferred).
        """
        self.inner = inner
        self.clock = clock
        self._delays = itertools.cycle(delays)
        self._lightly = lightly
        self.executed = 0
        self.lightAnswers = 0
        self.hub = getattr(inner, "hub", None)

    def execute(self, ctx, name, args):
        self.executed += 1
        reply = self.inner.execute(ctx, name, args)
        delay = next(self._delays)
        command = commands.lookup(name)
        if self._lightly and reply is not NO_REPLY and \
                not isinstance(reply, Deferred) and \
                not (command is not None and command.blocking):
            self.lightAnswers += 1
            later = Later()
            self.clock.callLater(delay, later.fire, reply)
            return later
        return deferLater(self.clock, delay, lambda: reply)

    def endTurn(self):
        self.inner.endTurn()

    def backendFigures(self):
        """
        The inner backend's data is its data (INFO's keyspace).
        """
        return self.inner.backendFigures()


class LaterCommandTests(test_commands.CommandTests):
    """
    The whole command test-suite, through L{LaterBackend}: every reply is
    a Deferred fired later, and the same.
    """

    def makeBackend(self, store):
        self.reactor = Clock()
        return LaterBackend(MemoryBackend(store), self.reactor)

    def reply(self, result):
        self.assertIsInstance(result, Deferred)
        self.assertNoResult(result)
        self.reactor.advance(1)
        return self.successResultOf(result)


class LightLaterCommandTests(test_commands.CommandTests):
    """
    The whole command test-suite, through L{LaterBackend} answering with
    L{Later} replies where it may: the same.
    """

    def makeBackend(self, store):
        self.reactor = Clock()
        return LaterBackend(MemoryBackend(store), self.reactor,
                            lightly=True)

    def reply(self, result):
        if isinstance(result, Later):
            self.assertFalse(result.done)
            result = result.asDeferred()
        self.assertIsInstance(result, Deferred)
        self.assertNoResult(result)
        self.reactor.advance(1)
        return self.successResultOf(result)


class _Time:
    """
    A stand-in for the C{time} module: a fixed C{time()}.
    """

    @staticmethod
    def time():
        return 1700000000.25


#: Requests covering every command of the table, some failing; C{HELLO 3}
#: switches the rest to RESP3 part way.  The last one closes.
CORPUS = [
    ["PING"], ["PING", "hi"], ["ECHO", "x"], ["SET", "a", "1"],
    ["SET", "a", "2", "GET"], ["SET", "b", "x", "EX", "100"],
    ["SETNX", "a", "3"], ["SETEX", "c", "10", "v"], ["GETSET", "a", "5"],
    ["GETDEL", "c"], ["GET", "a"], ["MGET", "a", "b", "nope"],
    ["MSET", "m1", "1", "m2", "2"], ["MSETNX", "m1", "1", "m3", "3"],
    ["INCR", "n"], ["DECR", "n"], ["INCRBY", "n", "5"],
    ["DECRBY", "n", "2"], ["APPEND", "a", "zz"], ["STRLEN", "a"],
    ["DEL", "m2", "nope"], ["UNLINK", "m1"], ["EXISTS", "a", "b", "n"],
    ["KEYS", "*"], ["KEYS", "m*"], ["SCAN", "0", "COUNT", "100"],
    ["TYPE", "a"], ["RENAME", "a", "a2"], ["EXPIRE", "b", "50"],
    ["PEXPIRE", "b", "40000"], ["EXPIREAT", "b", "9999999999"],
    ["PEXPIREAT", "b", "9999999999000"], ["TTL", "b"], ["PTTL", "b"],
    ["EXPIRETIME", "b"], ["PEXPIRETIME", "b"], ["PEXPIRETIME", "nope"],
    ["PERSIST", "b"], ["DBSIZE"], ["SELECT", "0"], ["SELECT", "1"],
    ["LPUSH", "l", "x", "y"], ["RPUSH", "l", "z"], ["LPUSHX", "l", "w"],
    ["RPUSHX", "nol", "w"], ["LPOP", "l"], ["RPOP", "l", "1"],
    ["LPOP", "nol", "2"], ["LRANGE", "l", "0", "-1"], ["LLEN", "l"],
    ["LINDEX", "l", "0"], ["LSET", "l", "0", "q"], ["LREM", "l", "0", "q"],
    ["LREPLACE", "l", "x", "X"], ["GET", "l"], ["INCR", "a2"],
    ["HSET", "h", "f", "1", "g", "2"], ["HMSET", "h", "i", "x"],
    ["HSETNX", "h", "f", "3"], ["HGET", "h", "f"], ["HMGET", "h", "f", "z"],
    ["HGETALL", "h"], ["HKEYS", "h"], ["HVALS", "h"], ["HLEN", "h"],
    ["HEXISTS", "h", "g"], ["HSTRLEN", "h", "g"], ["HDEL", "h", "g", "z"],
    ["HINCRBY", "h", "f", "2"], ["HINCRBYFLOAT", "h", "f", "0.5"],
    ["HINCRBY", "h", "i", "1"], ["HSET", "h1", "only", "v"],
    ["HRANDFIELD", "h1", "-2"],
    ["HSCAN", "h", "0", "MATCH", "f*"], ["HGET", "a2", "f"],
    ["SADD", "s", "a", "b", "c"], ["SADD", "s2", "b"], ["SREM", "s", "c"],
    ["SMEMBERS", "s"], ["SISMEMBER", "s", "a"], ["SMISMEMBER", "s", "a", "z"],
    ["SCARD", "s"], ["SINTER", "s", "s2"], ["SUNION", "s", "s2"],
    ["SDIFF", "s", "s2"], ["SINTERSTORE", "s3", "s", "s2"],
    ["SUNIONSTORE", "s4", "s", "s2"], ["SDIFFSTORE", "s5", "s", "s2"],
    ["SINTERCARD", "2", "s", "s2", "LIMIT", "5"], ["SMOVE", "s", "s2", "a"],
    ["SRANDMEMBER", "s", "-3"], ["SPOP", "s4", "5"], ["SPOP", "s3"],
    ["SSCAN", "s2", "0", "COUNT", "5"], ["SADD", "a2", "x"],
    ["ZADD", "z", "1", "a", "2.5", "b", "inf", "c"], ["ZADD", "z", "INCR", "1",
     "a"], ["ZINCRBY", "z", "1", "b"], ["ZSCORE", "z", "b"],
    ["ZMSCORE", "z", "a", "q"], ["ZCARD", "z"], ["ZCOUNT", "z", "(1", "+inf"],
    ["ZRANK", "z", "b"], ["ZREVRANK", "z", "b", "WITHSCORE"],
    ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZREVRANGE", "z", "0", "0"],
    ["ZRANGEBYSCORE", "z", "-inf", "3", "WITHSCORES", "LIMIT", "0", "2"],
    ["ZREVRANGEBYSCORE", "z", "+inf", "(2"], ["ZADD", "zl", "0", "p", "0", "q"],
    ["ZRANGEBYLEX", "zl", "[p", "+"], ["ZREVRANGEBYLEX", "zl", "+", "-"],
    ["ZLEXCOUNT", "zl", "-", "+"], ["ZRANGESTORE", "zr", "z", "0", "1"],
    ["ZUNIONSTORE", "zu", "2", "z", "zl", "WEIGHTS", "2", "1"],
    ["ZINTERSTORE", "zi", "2", "z", "zr", "AGGREGATE", "MAX"],
    ["ZSCAN", "z", "0"], ["ZPOPMIN", "zu"], ["ZPOPMAX", "zu", "2"],
    ["ZREMRANGEBYRANK", "zu", "0", "0"], ["ZREMRANGEBYSCORE", "zi", "0", "9"],
    ["ZREMRANGEBYLEX", "zl", "-", "(q"], ["ZREM", "z", "a", "q"],
    ["ZADD", "a2", "x", "y"],
    ["XADD", "xs", "1-1", "f", "v"], ["XADD", "xs", "MAXLEN", "2", "*", "g",
                                      "w"],
    ["XADD", "xs", "1-1", "f", "v"], ["XLEN", "xs"],
    ["XRANGE", "xs", "-", "+"], ["XREVRANGE", "xs", "+", "(1-1"],
    ["XREAD", "STREAMS", "xs", "0"], ["XDEL", "xs", "1-1"],
    ["XTRIM", "xs", "MAXLEN", "0"],
    ["PRINT"], ["CLIENT", "ID"], ["CLIENT", "SETNAME", "me"],
    # (CLIENT LIST and INFO of a connection show its buffers, which hold
    # other figures while replies wait for a later backend: listed here
    # for no connection.)
    ["CLIENT", "GETNAME"], ["CLIENT", "LIST", "TYPE", "master"],
    ["WAIT", "0", "0"],
    ["CONFIG", "GET", "maxclients"], ["COMMAND", "COUNT"],
    ["COMMAND", "INFO", "get", "nosuch"], ["COMMAND", "DOCS", "get"],
    ["COMMAND", "LIST"], ["COMMAND"], ["TIME"], ["INFO", "keyspace"],
    ["SAVE"], ["BGSAVE"], ["LASTSAVE"], ["SHUTDOWN", "NOSAVE"], ["HELP"],
    ["AUTH", "pw"], ["WATCH", "tx", "w2"], ["MULTI"], ["SET", "tx", "1"],
    ["INCR", "tx"], ["WATCH", "tx"],
    ["MULTI"], ["EXEC"], ["EXEC"], ["MULTI"], ["GET"], ["EXEC"], ["MULTI"],
    ["DISCARD"], ["DISCARD"], ["WATCH", "tx"], ["SET", "tx", "2"], ["MULTI"],
    ["GET", "tx"], ["EXEC"], ["WATCH", "tx"], ["UNWATCH"],
    ["EVAL", "return redis.call('incr', KEYS[1])", "1", "tx"],
    ["EVALSHA", "0000000000000000000000000000000000000000", "0"],
    ["SCRIPT", "LOAD", "return ARGV[1]"],
    ["EVALSHA", "098e0f0d1448c0a81dafe820f66d460eb09263da", "0", "a"],
    ["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "tx"],
    ["EVALSHA_RO", "0000000000000000000000000000000000000000", "0"],
    ["SCRIPT", "EXISTS", "098e0f0d1448c0a81dafe820f66d460eb09263da"],
    ["SCRIPT", "FLUSH"], ["MULTI"], ["EVAL", "return 1", "0"], ["EXEC"],
    ["NOSUCH", "x"], ["GET"], ["HELLO", "3"], ["GET", "a2"],
    ["MGET", "a2", "zz"], ["LPOP", "nol", "1"], ["HGETALL", "h"],
    ["HRANDFIELD", "h1", "-1", "WITHVALUES"], ["SMEMBERS", "s2"],
    ["SPOP", "s5", "2"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    ["ZPOPMIN", "z", "1"], ["ZSCORE", "z", "c"], ["PRINT"],
    ["CONFIG", "GET", "*port*"], ["HELLO", "2", "SETNAME", "again"],
    ["SET", "f", "1.5"], ["INCRBYFLOAT", "f", "0.25"],
    ["INCRBYFLOAT", "f", "x"], ["GETEX", "f", "PX", "9000"],
    ["GETEX", "f", "PERSIST"], ["PSETEX", "p", "5000", "v"],
    ["GETRANGE", "f", "0", "1"], ["SETRANGE", "f", "6", "xy"],
    ["SETBIT", "bits", "9", "1"], ["GETBIT", "bits", "9"],
    ["BITCOUNT", "bits"], ["BITCOUNT", "bits", "0", "-1", "BIT"],
    ["LCS", "f", "p"], ["LCS", "f", "p", "IDX", "WITHMATCHLEN"],
    ["RPUSH", "q", "a", "b", "c"], ["LMOVE", "q", "r", "LEFT", "RIGHT"],
    ["RPOPLPUSH", "q", "r"], ["LMPOP", "2", "nol", "r", "LEFT"],
    ["LMPOP", "1", "nol", "LEFT"], ["LPOS", "q", "c"],
    ["LPOS", "q", "c", "COUNT", "0"], ["LINSERT", "q", "AFTER", "c", "d"],
    ["LTRIM", "q", "0", "0"], ["RENAMENX", "q", "r"],
    ["COPY", "r", "r2", "DB", "2", "REPLACE"], ["TOUCH", "r", "q"],
    ["SELECT", "5"], ["SET", "only", "x"], ["RANDOMKEY"], ["SELECT", "1"],
    ["EXPIRE", "r", "100", "NX"], ["SCAN", "0", "TYPE",
                                                  "list"],
    ["OBJECT", "ENCODING", "r"], ["OBJECT", "FREQ", "r"], ["OBJECT", "HELP"],
    ["MOVE", "x", "0"], ["MOVE", "a2", "3"], ["SWAPDB", "1", "3"],
    ["SWAPDB", "0", "99"],
    ["RPUSH", "bl", "a", "b", "c"], ["BLPOP", "nol", "bl", "0"],
    ["BRPOP", "bl", "0.5"], ["BLPOP", "nol", "0.01"],
    ["BRPOPLPUSH", "bl", "bl2", "0"], ["BLMOVE", "bl2", "bl", "LEFT",
                                       "RIGHT", "1"],
    ["BLMPOP", "0.01", "2", "nol", "bl", "LEFT", "COUNT", "5"],
    ["BLMPOP", "0.01", "1", "nol", "RIGHT"], ["BLPOP", "nol", "-1"],
    ["ZADD", "bz", "1", "a", "2", "b"], ["BZPOPMIN", "nol", "bz", "0"],
    ["BZPOPMAX", "bz", "0.5"], ["BZPOPMIN", "bz", "0.01"],
    ["ZADD", "mz", "1", "a", "2", "b", "3", "c"],
    ["ZMPOP", "2", "nope", "mz", "MAX", "COUNT", "2"],
    ["BZMPOP", "0", "1", "mz", "MIN"], ["BZMPOP", "0.01", "1", "mz", "MIN"],
    ["CLIENT", "UNBLOCK", "99"], ["PUBLISH", "ch", "nobody"],
    ["PUBSUB", "NUMPAT"], ["PUBSUB", "HELP"], ["PUBSUB", "NOSUCH"],
    ["SUBSCRIBE", "ch", "ch2"], ["PUBSUB", "CHANNELS"], ["PING"],
    ["PING", "x"], ["PSUBSCRIBE", "c*"], ["PUBLISH", "ch", "m"],
    ["PUNSUBSCRIBE", "c*"], ["UNSUBSCRIBE", "ch"], ["UNSUBSCRIBE"],
    ["PUBLISH", "ch", "m"], ["PUBSUB", "NUMSUB", "ch", "ch2"],
    ["PUNSUBSCRIBE"], ["SUBSCRIBE", "ch3"], ["RESET"], ["GET", "x"],
    ["FLUSHDB"], ["SET", "x", "1"], ["FLUSHALL"], ["SET", "x", "1"],
    ["FLUSH"], ["DBSIZE"], ["QUIT"]]

#: How many requests of L{CORPUS} RESP2's subscribed mode refuses.
SUBSCRIBED_REFUSALS = 2

#: Lines of the other dialects: text, colon, JSON lines.
LINES = (b"SET t hello world\r\nGET t\r\nINCR n\r\nREMOVE t\r\n"
         b"GET t\r\nLPUSH l a b\r\nLRANGE l 0 -1\r\nHELP\r\nPRINT\r\n"
         b"NOSUCH x\r\nPut:c:1\r\nGet:c\r\nPut:c:2\r\nUpdate:c:1:3\r\n"
         b"Get:c\r\nDelete:c\r\nGet:c\r\n"
         b'{"type": "SET", "key": "j", "value": "v"}\r\n'
         b'{"type": "GET", "key": "j"}\r\n{"type": "KEYS"}\r\n'
         b'{"type": "BOGUS"}\r\nEXIT\r\n')


class LaterProtocolTests(SynchronousTestCase):
    """
    Connections in every dialect through L{LaterBackend}: the same bytes
    as through the memory backend, in request order, and the requests of
    a read all run at once (a Deferred reply doesn't stop the reading).
    """

    def setUp(self):
        from kvtwist.commands import connection, server
        self.patch(connection, "time", _Time)
        self.patch(server, "time", _Time)

    lightly = False

    def session(self, data: bytes, later: bool):
        """
        Send C{data} in one read to a new server, through the memory
        backend or a L{LaterBackend} over one; run its clock until nothing
        is left to do.  What was written and how many commands ran by the
        end of the read are kept in C{written} and C{executedAtOnce}.

        @return: C{(written, backend, transport)}: what the server wrote
            back by the end, its backend, its transport.
        """
        clock = Clock()
        clock.advance(1000)
        store = Store(lambda: 1700000000000.0)
        backend = MemoryBackend(store)
        if later:
            backend = LaterBackend(backend, clock, lightly=self.lightly)
        factory = KVFactory(store, None, Config(), clock=clock,
                            backend=backend)
        addr = IPv4Address("TCP", "127.0.0.1", 40000)
        proto = factory.buildProtocol(addr)
        transport = StringTransport(peerAddress=addr)
        proto.makeConnection(transport)
        proto.dataReceived(data)
        self.written = transport.value()
        self.executedAtOnce = getattr(backend, "executed", None)
        for _ in range(10000):
            if not clock.getDelayedCalls():
                break
            clock.advance(0.001)
        return transport.value(), backend, transport

    def test_corpusCoversTheTable(self):
        """
        L{CORPUS} runs every command of the table.
        """
        names = {words[0].encode() for words in CORPUS}
        names.update([b"EXIT"])
        self.assertEqual(set(commands.TABLE) - names, set())

    def test_sameReplies(self):
        """
        Every command of the table, in RESP2 and RESP3: the same bytes,
        in request order, whichever reply fires first.
        """
        data = b"".join(encodeCommand(*[w.encode() for w in words])
                        for words in CORPUS)
        expected, _, _ = self.session(data, later=False)
        written, backend, transport = self.session(data, later=True)
        # (All but the two that RESP2's subscribed mode refuses before
        # they reach the backend: PUBSUB CHANNELS, PUBLISH.)
        self.assertEqual(backend.executed, len(CORPUS) - SUBSCRIBED_REFUSALS)
        self.assertEqual(written, expected)
        self.assertTrue(transport.disconnecting)
        self.assertIn(b"*-1\r\n", written)  # LPOP nol 2, in RESP2

    def test_sameLines(self):
        """
        The text, colon and JSON-lines dialects: the same bytes.
        """
        expected, _, _ = self.session(LINES, later=False)
        written, _, transport = self.session(LINES, later=True)
        self.assertEqual(written, expected)
        self.assertTrue(transport.disconnecting)

    def test_protocolVersionOfEachRequest(self):
        """
        A reply that comes later is rendered in the protocol version of
        its request, even when a later request of the same read changed
        it: here C{SET ... GET} waiting for its fsync, then C{HELLO 3}.
        """
        clock = Clock()
        store = Store()
        service = JournalService(always=True)
        factory = KVFactory(store, service, Config(), clock=clock)
        addr = IPv4Address("TCP", "127.0.0.1", 40000)
        proto = factory.buildProtocol(addr)
        transport = StringTransport(peerAddress=addr)
        proto.makeConnection(transport)
        proto.dataReceived(encodeCommand(b"SET", b"k", b"v", b"GET") +
                           encodeCommand(b"HELLO", b"3") +
                           encodeCommand(b"SET", b"k", b"w", b"GET"))
        for d in service.waiting:
            d.callback(None)
        value = transport.value()
        self.assertTrue(value.startswith(b"$-1\r\n%8\r\n"), value)
        self.assertTrue(value.endswith(b"$1\r\nv\r\n"), value)

    def test_readsAhead(self):
        """
        A pipeline runs whole in the read that brought it, before any of
        its replies came: nothing is written until they do, then all of
        them, in order.
        """
        # (Nor blocking commands: with a backend whose every reply comes
        # later, a connection can't know that a blocking one didn't block,
        # and runs nothing more until it comes.)
        words = [w for w in CORPUS if w[0] not in ("KEYS", "PRINT") and
                 not getattr(commands.lookup(w[0].encode()), "blocking",
                             False)]
        data = b"".join(encodeCommand(*[w.encode() for w in ws])
                        for ws in words)
        expected, _, _ = self.session(data, later=False)
        written, backend, _ = self.session(data, later=True)
        self.assertEqual(self.executedAtOnce,
                         len(words) - SUBSCRIBED_REFUSALS)
        self.assertEqual(self.written, b"")
        self.assertEqual(written, expected)


class LightLaterProtocolTests(LaterProtocolTests):
    """
    The same, the backend answering with L{Later} replies where it may.
    """

    lightly = True

    def test_mostlyLight(self):
        """
        Most replies of L{CORPUS} were L{Later} ones (so the tests above
        are about them).
        """
        data = b"".join(encodeCommand(*[w.encode() for w in words])
                        for words in CORPUS)
        _, backend, _ = self.session(data, later=True)
        self.assertGreater(backend.lightAnswers, backend.executed * 0.8)
