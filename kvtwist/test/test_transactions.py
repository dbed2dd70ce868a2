"""
Tests for transactions (L{kvtwist.commands.transactions}) on the memory
backend (L{kvtwist.backends.atomic}): the state machine of C{MULTI},
C{EXEC}, C{DISCARD}, queueing and its errors, running the queued commands
as one, journaling them as one group, one durability wait.
"""

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from kvtwist import commands
from kvtwist.backends.memory import MemoryBackend
from kvtwist.commands import ClientState, Context
from kvtwist.dialects.resp import encodeCommand as e
from kvtwist.persist import format
from kvtwist.persist.journal import Journal
from kvtwist.replies import NULL_ARRAY, OK, QUEUED, Error, Status
from kvtwist.store import Store
from kvtwist.test.test_protocol import connect, makeFactory

EXECABORT = "EXECABORT Transaction discarded because of previous errors."


class JournaledService:
    """
    The parts of the store service the memory backend uses, over a real
    L{Journal}: its pending ops are what the log would get.

    @ivar failure: the persistence failure, or L{None}.
    @ivar bgsaves: how many times C{BGSAVE} started.
    """

    failure = None

    def __init__(self, always: bool = False):
        self.journal = Journal(always, wake=lambda: None)
        self.whenDurable = self.journal.whenDurable
        self.journalSeq = self.journal.seq
        self.groupSince = self.journal.group
        self.bgsaves = 0

    def sealBatch(self):
        pass

    def bgsave(self):
        self.bgsaves += 1
        return Status("Background saving started")


class TransactionTests(SynchronousTestCase):
    """
    C{MULTI} ... C{EXEC} on the memory backend, as Redis 7 answers it.
    """

    def setUp(self):
        self.store = Store()
        self.service = JournaledService()
        self.store.journal = self.service.journal.append
        self.backend = MemoryBackend(self.store, self.service)
        self.client = ClientState()
        self.ctx = Context(self.store, None, self.service, self.client)

    def call(self, *words, ctx=None):
        """
        Run a command given as words (L{str} or L{bytes}) for C{ctx} (this
        test's client if not given).
        """
        words = [w if isinstance(w, bytes) else w.encode() for w in words]
        return self.backend.execute(ctx or self.ctx, words[0], words[1:])

    def other(self) -> Context:
        """
        The context of another client of the same server.
        """
        return Context(self.store, None, self.service, ClientState(2))

    def test_queuedThenRun(self):
        """
        Between C{MULTI} and C{EXEC} commands answer C{QUEUED} and change
        nothing; C{EXEC} runs them in order and answers each one's reply.
        """
        self.assertEqual(self.call("MULTI"), OK)
        self.assertIs(self.call("SET", "k", "1"), QUEUED)
        self.assertIs(self.call("INCR", "k"), QUEUED)
        self.assertIs(self.call("GET", "k"), QUEUED)
        self.assertIsNone(self.store.get(b"k"))
        self.assertEqual(self.call("EXEC"), [OK, 2, b"2"])
        self.assertEqual(self.call("GET", "k"), b"2")
        self.assertIsNone(self.client.transaction)

    def test_emptyTransaction(self):
        """
        C{EXEC} right after C{MULTI} answers an empty array.
        """
        self.call("MULTI")
        self.assertEqual(self.call("EXEC"), [])

    def test_runtimeErrors(self):
        """
        A command that fails when run answers its error in C{EXEC}'s
        array; the others still run.
        """
        self.call("SET", "s", "x")
        self.call("MULTI")
        self.call("INCR", "s")
        self.call("SET", "t", "1")
        self.call("LPUSH", "s", "x")
        self.assertEqual(self.call("EXEC"), [
            Error("ERR value is not an integer or out of range"), OK,
            Error("WRONGTYPE Operation against a key holding the wrong kind "
                  "of value")])
        self.assertEqual(self.store.get(b"t"), b"1")

    def test_queueingErrorsAbort(self):
        """
        An unknown command, one of the wrong arity, or one not allowed in
        a transaction answers its error at once; C{EXEC} then answers
        C{EXECABORT} and runs nothing, and the transaction is over.
        """
        for bad in [("NOSUCH", "x"), ("GET",), ("SAVE",), ("SHUTDOWN",)]:
            self.call("MULTI")
            self.call("SET", "k", "v")
            reply = self.call(*bad)
            self.assertIsInstance(reply, Error)
            self.assertNotEqual(reply, QUEUED)
            self.assertEqual(self.call("EXEC"), Error(EXECABORT))
            self.assertIsNone(self.store.get(b"k"))
            self.assertIsNone(self.client.transaction)
        self.call("MULTI")
        self.assertEqual(self.call("SAVE"), Error(
            "ERR Command not allowed inside a transaction"))

    def test_wrongUses(self):
        """
        C{EXEC} and C{DISCARD} without C{MULTI}, and a nested C{MULTI},
        answer Redis's errors; the nested C{MULTI} doesn't fail the
        transaction.
        """
        self.assertEqual(self.call("EXEC"), "ERR EXEC without MULTI")
        self.assertEqual(self.call("DISCARD"), "ERR DISCARD without MULTI")
        self.call("MULTI")
        self.assertEqual(self.call("MULTI"),
                         "ERR MULTI calls can not be nested")
        self.call("SET", "k", "v")
        self.assertEqual(self.call("EXEC"), [OK])

    def test_discard(self):
        """
        C{DISCARD} forgets the queued commands; they never run.
        """
        self.call("MULTI")
        self.call("SET", "k", "v")
        self.assertEqual(self.call("DISCARD"), OK)
        self.assertIsNone(self.store.get(b"k"))
        self.assertEqual(self.call("GET", "k"), None)
        self.assertEqual(self.call("EXEC"), "ERR EXEC without MULTI")

    def test_quitNotQueued(self):
        """
        C{QUIT} inside a transaction is not queued: it closes.
        """
        self.call("MULTI")
        self.assertEqual(self.call("QUIT"), OK)
        self.assertTrue(self.client.closeAfterReply)

    def test_othersUnaffected(self):
        """
        Another client's commands run at once while this one queues.
        """
        self.call("MULTI")
        self.call("SET", "k", "mine")
        other = self.other()
        self.assertEqual(self.call("SET", "k", "theirs", ctx=other), OK)
        self.assertEqual(self.call("GET", "k", ctx=other), b"theirs")
        self.assertEqual(self.call("EXEC"), [OK])
        self.assertEqual(self.call("GET", "k", ctx=other), b"mine")

    def test_misconfWhileQueueing(self):
        """
        While persistence fails, a write sent after C{MULTI} answers
        C{MISCONF} and fails the transaction; a read is queued.
        """
        self.call("MULTI")
        self.service.failure = "disk full"
        self.assertIs(self.call("GET", "k"), QUEUED)
        reply = self.call("SET", "k", "v")
        self.assertTrue(reply.startswith("MISCONF "), reply)
        self.assertEqual(self.call("EXEC"), Error(EXECABORT))

    def test_misconfAtExec(self):
        """
        If persistence fails between queueing writes and C{EXEC}, C{EXEC}
        answers C{EXECABORT} with the C{MISCONF} error and runs nothing;
        a transaction of reads runs.
        """
        self.call("MULTI")
        self.call("SET", "k", "v")
        self.service.failure = "disk full"
        reply = self.call("EXEC")
        self.assertTrue(reply.startswith(
            "EXECABORT Transaction discarded because of: MISCONF "), reply)
        self.assertIn("disk full", reply)
        self.assertIsNone(self.store.get(b"k"))
        self.assertIsNone(self.client.transaction)
        self.call("MULTI")
        self.call("GET", "k")
        self.assertEqual(self.call("EXEC"), [None])

    def test_journaledAsOneGroup(self):
        """
        The writes of an C{EXEC} are journaled as one group op, after the
        writes before it; a single write needs no group, and reads
        journal nothing.
        """
        journal = self.service.journal
        self.call("SET", "before", "1")
        self.call("MULTI")
        self.call("SET", "a", "1")
        self.call("GET", "a")
        self.call("RPUSH", "l", "x", "y")
        self.call("DEL", "before")
        self.call("EXEC")
        self.assertEqual(len(journal.pending), 2)
        self.assertEqual(journal.pending[0], (b"SET", b"before", b"1"))
        self.assertEqual(format.ungroup(journal.pending[1]), [
            (b"SET", b"a", b"1"), (b"RPUSH", b"l", b"x", b"y"),
            (b"DEL", b"before")])
        self.call("MULTI")
        self.call("SET", "b", "1")
        self.call("EXEC")
        self.call("MULTI")
        self.call("GET", "b")
        self.call("EXEC")
        self.assertEqual(journal.pending[2:], [(b"SET", b"b", b"1")])

    def test_replayedAsOne(self):
        """
        Replaying the journal gives the store the C{EXEC} left.
        """
        ops = []
        self.call("MULTI")
        self.call("SET", "a", "1")
        self.call("INCR", "a")
        self.call("LPUSH", "l", "x")
        self.call("EXEC")
        ops = list(self.service.journal.pending)
        replayed = Store()
        for op in ops:
            for one in (format.ungroup(op) if op[0] == format.GROUP
                        else [op]):
                replayed.apply(one)
        self.assertEqual(replayed.contents(), self.store.contents())

    def test_oneDurabilityWait(self):
        """
        With C{--fsync always}, C{EXEC}'s reply waits once, until every
        write of it is durable; the queued writes don't wait one by one.
        """
        service = JournaledService(always=True)
        self.store.journal = service.journal.append
        backend = MemoryBackend(self.store, service)
        ctx = Context(self.store, None, service, ClientState())

        def call(*words):
            return backend.execute(ctx, words[0], list(words[1:]))
        self.assertEqual(call(b"MULTI"), OK)
        self.assertIs(call(b"SET", b"a", b"1"), QUEUED)
        self.assertIs(call(b"SET", b"b", b"2"), QUEUED)
        reply = call(b"EXEC")
        self.assertIsInstance(reply, Deferred)
        self.assertNoResult(reply)
        self.assertEqual(len(service.journal._waiters), 1)
        service.journal.markDurable(service.journal.seq())
        self.assertEqual(self.successResultOf(reply), [OK, OK])

    def test_readsDontWait(self):
        """
        With C{--fsync always}, an C{EXEC} of reads answers at once.
        """
        service = JournaledService(always=True)
        backend = MemoryBackend(self.store, service)
        ctx = Context(self.store, None, service, ClientState())
        backend.execute(ctx, b"MULTI", [])
        backend.execute(ctx, b"GET", [b"k"])
        self.assertEqual(backend.execute(ctx, b"EXEC", []), [None])

    def test_bgsaveScheduled(self):
        """
        C{BGSAVE} inside C{EXEC} is scheduled: it starts once the whole
        C{EXEC} has run, and answers as Redis does.
        """
        starts = []

        def bgsave():
            starts.append(self.store.get(b"after"))
            return Status("Background saving started")
        self.service.bgsave = bgsave
        self.call("MULTI")
        self.call("BGSAVE")
        self.call("SET", "after", "1")
        self.assertEqual(self.call("EXEC"),
                         [Status("Background saving scheduled"), OK])
        self.assertEqual(starts, [b"1"])

    def test_laterReplies(self):
        """
        A queued command whose reply comes later makes C{EXEC}'s reply a
        Deferred of the whole array, in order.
        """
        later = Deferred()
        commands.TABLE[b"LATER"] = commands.Command(
            "LATER", 1, lambda ctx, args: later, "readonly")
        self.addCleanup(commands.TABLE.pop, b"LATER")
        self.call("MULTI")
        self.call("SET", "k", "v")
        self.call("LATER")
        reply = self.call("EXEC")
        self.assertNoResult(reply)
        later.callback(b"late")
        self.assertEqual(self.successResultOf(reply), [OK, b"late"])

    def test_atomicState(self):
        """
        While its queued commands run, the client's C{atomic} is the run
        (blocking commands answer at once then); after, it is L{None}.
        """
        seen = []
        commands.TABLE[b"PEEK"] = commands.Command(
            "PEEK", 1, lambda ctx, args: seen.append(ctx.client.atomic) or OK,
            "readonly")
        self.addCleanup(commands.TABLE.pop, b"PEEK")
        self.call("PEEK")
        self.call("MULTI")
        self.call("PEEK")
        self.call("EXEC")
        self.assertIsNone(seen[0])
        self.assertIsNotNone(seen[1])
        self.assertIsNone(self.client.atomic)

    def test_disconnected(self):
        """
        A client that goes away in the middle of a transaction leaves
        nothing queued.
        """
        self.call("MULTI")
        self.call("SET", "k", "v")
        self.backend.clientDisconnected(self.ctx)
        self.assertIsNone(self.client.transaction)
        self.assertIsNone(self.store.get(b"k"))

    def test_commandInfo(self):
        """
        The table has Redis's arity, flags and key positions of the
        transaction commands (C{COMMAND INFO} of Redis 7).
        """
        expected = {
            "MULTI": (1, "noscript loading stale fast allow_busy", (0, 0, 0)),
            "EXEC": (1, "noscript loading stale skip_slowlog", (0, 0, 0)),
            "DISCARD": (1, "noscript loading stale fast allow_busy",
                        (0, 0, 0)),
            "WATCH": (-2, "noscript loading stale fast allow_busy",
                      (1, -1, 1)),
            "UNWATCH": (1, "noscript loading stale fast allow_busy",
                        (0, 0, 0)),
        }
        for name, (arity, flags, keys) in expected.items():
            cmd = commands.TABLE[name.encode()]
            self.assertEqual(
                (cmd.arity, sorted(cmd.flags),
                 (cmd.firstKey, cmd.lastKey, cmd.step), cmd.group),
                (arity, sorted(flags.split()), keys, "transactions"))
            self.assertTrue(cmd.syntax.startswith(name))
            self.assertTrue(cmd.summary)


class NullArrayTests(SynchronousTestCase):
    """
    The null array C{EXEC} answers when a watched key changed renders as
    Redis's: C{*-1} in RESP2, C{_} in RESP3.
    """

    def test_rendered(self):
        """
        L{NULL_ARRAY} in both RESP versions.
        """
        from kvtwist.dialects.resp import render
        self.assertEqual(render(NULL_ARRAY, 2), b"*-1\r\n")
        self.assertEqual(render(NULL_ARRAY, 3), b"_\r\n")


class ConnectionInteractionTests(SynchronousTestCase):
    """
    Transactions on a connection, beside what landed with them: blocking
    commands, pub/sub, RESP3, C{RESET}, C{CLIENT LIST}.
    """

    def setUp(self):
        self.factory, self.clock = makeFactory()
        self.proto, self.transport = connect(self.factory)

    def send(self, *requests, proto=None):
        """
        Send RESP requests (each a list of words) on C{proto} (this test's
        connection if not given); what it answered.
        """
        proto = proto or self.proto
        transport = proto.transport
        transport.clear()
        proto.dataReceived(b"".join(e(*words) for words in requests))
        return transport.value()

    def test_blockingAnswersAtOnce(self):
        """
        A blocking pop queued in C{MULTI} answers at once in C{EXEC}: what
        it pops, or a null as if its timeout had passed; the client is not
        blocked and its next request runs.
        """
        self.assertEqual(
            self.send(["MULTI"], ["BLPOP", "nolist", "0"],
                      ["RPUSH", "l", "a"], ["BLPOP", "l", "0"],
                      ["BRPOP", "l", "5"], ["EXEC"], ["PING"]),
            b"+OK\r\n" + b"+QUEUED\r\n" * 4 +
            b"*4\r\n*-1\r\n:1\r\n*2\r\n$1\r\nl\r\n$1\r\na\r\n*-1\r\n"
            b"+PONG\r\n")
        self.assertFalse(self.proto.state.blocked)

    def test_blockedServedAfterExec(self):
        """
        A client blocked on a list is served once the whole C{EXEC} has
        run: not the element it pushes if it pops it again itself.
        """
        waiter, waiting = connect(self.factory, port=40001)
        waiter.dataReceived(e("BLPOP", "q", "0"))
        self.send(["MULTI"], ["RPUSH", "q", "x"], ["LPOP", "q"], ["EXEC"])
        self.assertEqual(waiting.value(), b"")
        self.send(["MULTI"], ["RPUSH", "q", "x", "y"], ["LPOP", "q"],
                  ["EXEC"])
        self.assertEqual(waiting.value(), b"*2\r\n$1\r\nq\r\n$1\r\ny\r\n")

    def test_subscribeInsideExec(self):
        """
        A C{SUBSCRIBE} queued in C{MULTI} answers its acknowledgement in
        C{EXEC}'s array, and from then on a RESP2 client is in subscribed
        mode, as in Redis: messages reach it, other commands are refused.
        """
        self.assertEqual(
            self.send(["MULTI"], ["SUBSCRIBE", "ch"], ["SET", "k", "v"],
                      ["EXEC"], ["SET", "a", "b"], ["PING"]),
            b"+OK\r\n+QUEUED\r\n+QUEUED\r\n"
            b"*2\r\n*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n+OK\r\n"
            b"-ERR Can't execute 'set': only (P|S)SUBSCRIBE / "
            b"(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this "
            b"context\r\n"
            b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")
        publisher, _ = connect(self.factory, port=40001)
        self.transport.clear()
        self.assertEqual(self.send(["PUBLISH", "ch", "hi"], proto=publisher),
                         b":1\r\n")
        self.assertEqual(self.transport.value(),
                         b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n")

    def test_resp3(self):
        """
        In RESP3, C{EXEC}'s array holds each command's RESP3 reply: a map,
        a double, a null.
        """
        self.send(["HELLO", "3"])
        self.assertEqual(
            self.send(["MULTI"], ["HSET", "h", "f", "v"], ["HGETALL", "h"],
                      ["ZADD", "z", "1.5", "m"], ["ZSCORE", "z", "m"],
                      ["GET", "nokey"], ["EXEC"]),
            b"+OK\r\n" + b"+QUEUED\r\n" * 5 +
            b"*5\r\n:1\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n:1\r\n,1.5\r\n_\r\n")

    def test_reset(self):
        """
        C{RESET} ends a transaction and stops watching, as in Redis.
        """
        self.assertEqual(
            self.send(["WATCH", "k"], ["MULTI"], ["SET", "k", "v"],
                      ["RESET"], ["EXEC"]),
            b"+OK\r\n+OK\r\n+QUEUED\r\n+RESET\r\n"
            b"-ERR EXEC without MULTI\r\n")
        self.assertEqual(self.factory.store.get(b"k"), None)
        self.send(["WATCH", "k"], ["RESET"])
        other, _ = connect(self.factory, port=40001)
        self.send(["SET", "k", "w"], proto=other)
        self.assertEqual(self.send(["MULTI"], ["GET", "k"], ["EXEC"]),
                         b"+OK\r\n+QUEUED\r\n*1\r\n$1\r\nw\r\n")

    def test_clientList(self):
        """
        C{CLIENT LIST} shows a client in C{MULTI} with the flag C{x} and
        how many commands it queued (C{multi}), how many keys it watches
        (C{watch}), and C{d} once one of them changed.
        """
        self.send(["WATCH", "a", "b"], ["MULTI"], ["SET", "a", "1"],
                  ["GET", "b"])
        asker, _ = connect(self.factory, port=40001)
        line = self.send(["CLIENT", "LIST", "ID", "1"], proto=asker)
        self.assertIn(b" flags=x db=0 sub=0 psub=0 ssub=0 multi=2 watch=2 ",
                      line)
        self.send(["SET", "b", "2"], proto=asker)
        line = self.send(["CLIENT", "LIST", "ID", "1"], proto=asker)
        self.assertIn(b" flags=xd ", line)
        self.assertEqual(self.send(["EXEC"]), b"*-1\r\n")
        line = self.send(["CLIENT", "LIST", "ID", "1"], proto=asker)
        self.assertIn(b" flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 watch=0 ",
                      line)
