"""
Tests for L{kvtwist.backends}: the memory backend, and the seam every caller
runs commands through (L{kvtwist.interfaces.IBackend}).
"""

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from kvtwist import commands
from kvtwist.backends.memory import MemoryBackend
from kvtwist.commands import ClientState, Context
from kvtwist.dialects.resp import encodeCommand
from kvtwist.interfaces import IBackend
from kvtwist.replies import OK, Error
from kvtwist.server import Config, KVFactory
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
