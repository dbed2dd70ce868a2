"""
Tests for graceful shutdown: L{kvtwist.factory.KVFactory.disconnectAll},
L{kvtwist.services.ClientsService} and the stop order of the service tree
L{kvtwist.tap.makeService} builds.
"""

from twisted.application.service import Service
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from kvtwist import idlegc, tap
from kvtwist.dialects.resp import encodeCommand
from kvtwist.services import ClientsService, OrderedMultiService
from kvtwist.test.test_protocol import (BufferingTransport, connect,
                                        makeFactory)


class LingeringTransport(BufferingTransport):
    """
    A transport whose peer never reads: C{loseConnection} waits forever
    for the unsent replies to go out; only C{abortConnection} closes it.
    """

    def loseConnection(self):
        self.disconnecting = True

    def abortConnection(self):
        self.disconnecting = False
        BufferingTransport.loseConnection(self)


class DisconnectAllTests(SynchronousTestCase):
    """
    Closing every client while replies are in flight.
    """

    def test_repliesInFlightFinishFirst(self):
        """
        A client waiting for a durable write's reply gets it before its
        connection is closed; requests sent after the shutdown began are
        not run; the Deferred fires once every client is gone.
        """
        factory, clock = makeFactory()
        factory.service.durable = True
        writer, writerTransport = connect(factory, port=1)
        idle, idleTransport = connect(factory, port=2)
        writer.dataReceived(encodeCommand("SET", "k", "v"))
        self.assertEqual(writerTransport.value(), b"")
        done = factory.disconnectAll(timeout=5)
        self.assertFalse(idleTransport.connected)
        self.assertTrue(writerTransport.connected)
        self.assertNoResult(done)
        writer.dataReceived(encodeCommand("SET", "late", "x"))
        factory.service.fire()
        self.assertEqual(writerTransport.value(), b"+OK\r\n")
        self.assertFalse(writerTransport.connected)
        self.assertIsNone(self.successResultOf(done))
        self.assertIsNone(factory.store.get(b"late"))
        self.assertEqual(factory.countActive(), 0)

    def test_noClients(self):
        """
        With no client connected, it is done at once.
        """
        factory, _ = makeFactory()
        self.assertIsNone(self.successResultOf(factory.disconnectAll()))

    def test_stalledClientAborted(self):
        """
        A client that never reads its replies is aborted once the timeout
        passes, and the Deferred fires.
        """
        factory, clock = makeFactory(maxOutputBuffer=100)
        factory.store.set(b"big", b"x" * 5000)
        addr = IPv4Address("TCP", "127.0.0.1", 40000)
        proto = factory.buildProtocol(addr)
        transport = LingeringTransport(peerAddress=addr)
        transport.protocol = proto
        proto.makeConnection(transport)
        proto.dataReceived(encodeCommand("GET", "big") * 3)
        done = factory.disconnectAll(timeout=5)
        clock.advance(4.9)
        self.assertNoResult(done)
        self.assertTrue(transport.connected)
        clock.advance(0.2)
        self.assertFalse(transport.connected)
        self.assertIsNone(self.successResultOf(done))
        self.assertEqual(proto.disconnectReason, "shutdown timed out")

    def test_clientsService(self):
        """
        L{ClientsService.stopService} closes the factory's clients.
        """
        factory, _ = makeFactory()
        _, transport = connect(factory)
        svc = ClientsService(factory)
        svc.startService()
        d = svc.stopService()
        self.assertIsNone(self.successResultOf(d))
        self.assertFalse(transport.connected)
        self.assertFalse(svc.running)


class Recorder(Service):
    """
    A service whose stop is a Deferred the test fires, noting when it was
    asked to stop.
    """

    def __init__(self, name, stopped):
        self.setName(name)
        self.stopped = stopped
        self.pending = Deferred()

    def stopService(self):
        Service.stopService(self)
        self.stopped.append(self.name)
        return self.pending


class OrderedStopTests(SynchronousTestCase):
    """
    L{OrderedMultiService} and the tree L{tap.makeService} builds.
    """

    def test_oneAfterAnother(self):
        """
        Children stop last-added first, each only once the one before has
        finished; a failing stop is logged and the rest still stop.
        """
        stopped = []
        top = OrderedMultiService()
        first = Recorder("store", stopped)
        second = Recorder("clients", stopped)
        third = Recorder("listener", stopped)
        for svc in (first, second, third):
            svc.setServiceParent(top)
        top.startService()
        d = top.stopService()
        self.assertEqual(stopped, ["listener"])
        third.pending.errback(RuntimeError("boom"))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertEqual(stopped, ["listener", "clients"])
        second.pending.callback(None)
        self.assertEqual(stopped, ["listener", "clients", "store"])
        self.assertNoResult(d)
        first.pending.callback(None)
        self.successResultOf(d)

    def test_makeServiceOrder(self):
        """
        The store service comes first (stopped last, after the clients
        were closed) and the clients step before the listeners (closed
        only once nothing new can connect); the store's shutdown gate
        comes last (stopped first: no exit while the log can't be
        written, with clients still served).
        """
        options = tap.Options()
        options.parseOptions(["--data-dir", self.mktemp(),
                              "--port", "tcp:0:interface=127.0.0.1"])
        top = tap.makeService(options, MemoryReactorClock())
        self.assertIsInstance(top, OrderedMultiService)
        kinds = [type(svc).__name__ for svc in top]
        collector = ["IdleCollector"] if idlegc.available() else []
        self.assertEqual(kinds, ["StoreService"] + collector +
                         ["ClientsService", "ListenerService",
                          "ShutdownGate"])
