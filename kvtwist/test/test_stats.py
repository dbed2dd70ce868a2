"""
Tests for L{kvtwist.stats}: the one stats snapshot, and its rendering by
C{INFO}, C{/metrics} and the web status page, for the memory backend and
for a backend that tells nothing of its data.
"""

from prometheus_client import generate_latest
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from kvtwist.commands import Context
from kvtwist.commands.server import infoSections, renderInfo
from kvtwist.interfaces import IBackend
from kvtwist.replies import OK
from kvtwist.factory import Config, KVFactory
from kvtwist.stats import (BackendFigures, DatabaseFigures, IBackendStats,
                           IStatsSnapshot, KeyspaceFigures,
                           PersistenceFigures, memoryFigures, rss,
                           takeSnapshot)
from kvtwist.store import Store
from kvtwist.web.data import WebData
from kvtwist.web.metrics import makeRegistry


class Service:
    """
    A store service as the snapshot reads it (L{IPersistenceStats}).
    """

    failure = None
    flushDurations = (0.25, 0.5)
    snapshotDurations = ()

    def info(self):
        return {"aof_fsync": "always", "aof_flushes": 7,
                "rdb_last_save_time": 1234}


def makeFactory(backend=None, service=None):
    """
    A factory on a L{Clock} started at 1000, with a fresh store.
    """
    clock = Clock()
    clock.advance(1000)
    store = Store(lambda: clock.seconds() * 1000)
    factory = KVFactory(store, service, Config(port="tcp:4000", maxClients=9),
                        clock=clock, backend=backend)
    return factory, clock


class SnapshotTests(SynchronousTestCase):
    """
    L{takeSnapshot}.
    """

    def test_figures(self):
        """
        The snapshot holds the factory's counters, its clock's uptime, the
        process's memory and the memory backend's keyspace and
        persistence, as they were when it was taken.
        """
        factory, clock = makeFactory(service=Service())
        stats = factory.stats
        stats.commandsProcessed = 5
        stats.perCommand.update({"SET": 3, "GET": 2})
        stats.unknown = 1
        stats.connectionsReceived = 4
        stats.dropped = 2
        stats.rejected = 1
        stats.netInput, stats.netOutput = 10, 20
        stats.authFailures = 3
        factory.store.set(b"k", b"v", expireAtMs=2000 * 1000)
        clock.advance(90)
        snap = takeSnapshot(factory)
        verifyObject(IStatsSnapshot, snap)
        self.assertEqual(snap.time, 1090)
        self.assertEqual(snap.process.uptime, 90)
        self.assertEqual(snap.process.tcpPort, 4000)
        self.assertEqual(snap.process.reactor,
                         "twisted.internet.task.Clock")
        self.assertEqual(tuple(snap.clients), (0, 9, 4, 2, 1, 0, 3, 0, 0, 0))
        self.assertEqual(snap.commands.perCommand,
                         (("GET", 2), ("SET", 3)))
        self.assertEqual((snap.traffic.input, snap.traffic.output),
                         (10, 20))
        self.assertEqual(snap.backend.kind, "memory")
        self.assertEqual(snap.backend.keyspace, KeyspaceFigures(
            1, 1, 0, (DatabaseFigures(0, 1, 1, 910000),)))
        persistence = snap.backend.persistence
        self.assertEqual(persistence.fsync, "always")
        self.assertEqual(persistence.flushes, 7)
        self.assertEqual(persistence.lastSave, 1234)
        self.assertIsNone(persistence.snapshots)
        self.assertEqual(persistence.flushDurations, (0.25, 0.5))
        stats.commandsProcessed = 6
        self.assertEqual(snap.commands.processed, 5)

    def test_noServer(self):
        """
        Without a server, the server's parts are L{None} and the backend's
        part is the one given.
        """
        store = Store(lambda: 0)
        snap = takeSnapshot(None, memoryFigures(store))
        self.assertIsNone(snap.clients)
        self.assertIsNone(snap.commands)
        self.assertEqual(snap.process.reactor, "none")
        self.assertEqual(snap.backend.keyspace.keys, 0)
        self.assertIsNone(snap.backend.persistence)

    def test_rss(self):
        """
        L{rss} is this process's resident memory: more than a megabyte.
        """
        self.assertGreater(rss(), 1 << 20)


@implementer(IBackend, IBackendStats)
class FrontEnd:
    """
    A backend keeping no data itself (as a front end over Redis Cluster
    would): it answers C{OK} and tells only its kind.
    """

    def execute(self, ctx, name, args):
        return OK

    def endTurn(self):
        pass

    def backendFigures(self):
        return BackendFigures("front end")


@implementer(IBackend)
class Silent:
    """
    A backend that doesn't provide L{IBackendStats}.
    """

    def execute(self, ctx, name, args):
        return OK

    def endTurn(self):
        pass


class OtherBackendTests(SynchronousTestCase):
    """
    The renderers show what a backend that is not the in-memory store
    tells, and leave out what it doesn't.
    """

    def test_snapshot(self):
        """
        A backend's own figures are its part; one that tells none is
        known by its kind only.
        """
        factory, _ = makeFactory(FrontEnd())
        self.assertEqual(takeSnapshot(factory).backend,
                         BackendFigures("front end"))
        factory, _ = makeFactory(Silent())
        self.assertEqual(takeSnapshot(factory).backend,
                         BackendFigures("Silent"))

    def test_info(self):
        """
        C{INFO} has no Keyspace and no Persistence section, and no
        expired-keys count, for a backend without them.
        """
        factory, _ = makeFactory(FrontEnd())
        sections = dict(infoSections(Context(factory.store, factory)))
        self.assertNotIn("Keyspace", sections)
        self.assertNotIn("Persistence", sections)
        self.assertNotIn("expired_keys", dict(sections["Stats"]))
        self.assertEqual(dict(sections["Clients"])["maxclients"], 9)

    def test_metrics(self):
        """
        C{/metrics} has no key or persistence metrics for it.
        """
        factory, _ = makeFactory(FrontEnd())
        text = generate_latest(makeRegistry(factory)).decode()
        self.assertIn("kvtwist_connected_clients 0.0", text)
        self.assertNotIn("kvtwist_keys", text)
        self.assertNotIn("kvtwist_flushes", text)

    def test_status(self):
        """
        The status page's data says the key counts are unknown and there
        is no persistence.
        """
        factory, _ = makeFactory(FrontEnd())
        status = WebData(factory).status()
        self.assertIsNone(status["keys"])
        self.assertIsNone(status["persistence"])
        self.assertEqual(status["clients"]["max"], 9)


class PersistenceFiguresTests(SynchronousTestCase):
    """
    L{PersistenceFigures} reads its figures from the INFO fields.
    """

    def test_byName(self):
        """
        Each figure is its field; a missing field is L{None}.
        """
        figures = PersistenceFigures(
            (("aof_current_size", 10), ("aof_pending_bytes", 2),
             ("rdb_snapshot_size", 99), ("persistence_errors", 1)), None)
        self.assertEqual((figures.logSize, figures.pendingBytes,
                          figures.snapshotSize, figures.errors),
                         (10, 2, 99, 1))
        self.assertIsNone(figures.flushErrors)
        self.assertEqual(figures.field("nope", "-"), "-")


class ClosedByServerTests(SynchronousTestCase):
    """
    Clients the server closed are counted apart from ordinary disconnects
    (C{dropped_clients} still counts every one), and shown by INFO,
    C{/metrics} and the web status page.
    """

    def setUp(self):
        from kvtwist.test import test_protocol
        self.p = test_protocol

    def counts(self, factory):
        """
        C{(dropped, closedByServer)} of the factory's snapshot.
        """
        clients = takeSnapshot(factory).clients
        return clients.dropped, clients.closedByServer

    def test_clientEnds(self):
        """
        A client that leaves, or says QUIT, is dropped but not closed by
        the server.
        """
        factory, clock = self.p.makeFactory()
        proto, transport = self.p.connect(factory, port=1)
        self.p.lose(proto)
        proto, transport = self.p.connect(factory, port=2)
        proto.dataReceived(b"QUIT\r\n")
        self.assertFalse(transport.connected)
        self.assertEqual(self.counts(factory), (2, 0))

    def test_serverCloses(self):
        """
        A client refused at the limit, one closed for a protocol error and
        one idle past --timeout are closed by the server.
        """
        factory, clock = self.p.makeFactory(maxClients=1, timeout=10)
        factory.startFactory()
        self.addCleanup(factory.stopFactory)
        first, firstTransport = self.p.connect(factory, port=1)
        refused, refusedTransport = self.p.connect(factory, port=2)
        self.assertFalse(refusedTransport.connected)
        self.assertEqual(self.counts(factory), (1, 1))
        first.dataReceived(b"*1\r\n$x\r\n")
        self.assertFalse(firstTransport.connected)
        self.assertEqual(self.counts(factory), (2, 2))
        idle, idleTransport = self.p.connect(factory, port=3)
        clock.advance(11)
        self.assertFalse(idleTransport.connected)
        self.assertEqual(self.counts(factory), (3, 3))

    def test_stalled(self):
        """
        A client closed for not reading its replies is closed by the
        server.
        """
        factory, clock = self.p.makeFactory(maxOutputBuffer=100,
                                            stallTimeout=30)
        factory.startFactory()
        self.addCleanup(factory.stopFactory)
        factory.store.set(b"big", b"x" * 600)
        slow, slowTransport = self.p.connectBuffering(factory, port=1)
        slow.dataReceived(self.p.encodeCommand("GET", "big") * 3)
        clock.advance(0)
        clock.advance(31)
        self.assertFalse(slowTransport.connected)
        self.assertEqual(self.counts(factory), (1, 1))

    def test_rendered(self):
        """
        INFO has C{closed_by_server} beside C{dropped_clients}; C{/metrics}
        has C{kvtwist_clients_closed_by_server_total}; the status API has
        it with the disconnects per second.
        """
        factory, clock = makeFactory()
        factory.stats.dropped = 5
        factory.stats.closedByServer = 2
        fields = dict(dict(renderInfo(takeSnapshot(factory)))["Clients"])
        self.assertEqual((fields["dropped_clients"],
                          fields["closed_by_server"]), (5, 2))
        text = generate_latest(makeRegistry(factory)).decode()
        self.assertIn("kvtwist_clients_closed_by_server_total 2.0", text)
        self.assertIn("kvtwist_dropped_clients_total 5.0", text)
        clients = WebData(factory).status()["clients"]
        self.assertEqual((clients["dropped"], clients["closedByServer"],
                          clients["disconnectsPerSecond"]), (5, 2, 0.0))
