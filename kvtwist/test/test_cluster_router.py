"""
Tests for L{kvtwist.backends.cluster.router} and its node connections,
against a fake cluster (L{kvtwist.test.clusterfakes}) on a L{Clock}: no
sockets, no real time.
"""

from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from kvtwist.backends.cluster import router as routing
from kvtwist.backends.cluster.router import POOL_SIZE, Router
from kvtwist.backends.cluster.slots import keySlot
from kvtwist.replies import OK, Error
from kvtwist.test.clusterfakes import FakeCluster


def keyOn(node, cluster, prefix=b"k"):
    """
    A key whose slot C{node} serves.
    """
    n = 0
    while True:
        key = prefix + b"%d" % (n,)
        if cluster.owners[keySlot(key)] is node:
            return key
        n += 1


class RouterTestCase(SynchronousTestCase):
    """
    A started router over a fake cluster of three primaries, its slot
    table known.
    """

    timeout = 5.0
    waitReplicas = 0

    def setUp(self):
        self.clock = Clock()
        self.clock.advance(1000)
        self.cluster = FakeCluster(self.clock, primaries=3, replicas=1)
        self.router = Router(self.cluster.seeds(), self.clock,
                             self.cluster.connect, timeout=self.timeout,
                             waitReplicas=self.waitReplicas)
        self.router.start()
        self.settle()
        self.addCleanup(self.router.stop)

    def settle(self):
        self.cluster.settle()

    def send(self, *argv, write=None):
        """
        Send C{argv} by its first key's slot; the Deferred's result list.
        """
        argv = [a if isinstance(a, bytes) else a.encode() for a in argv]
        if write is None:
            write = argv[0].upper() in (b"SET", b"DEL", b"INCR", b"RPUSH",
                                        b"MSET", b"BLPOP")
        result = []
        self.router.send(argv, keySlot(argv[1]), write).addCallback(
            result.append)
        return result

    def later(self, seconds):
        """
        Let C{seconds} pass, in small steps, settling each.
        """
        steps = int(seconds / 0.01)
        for _ in range(steps):
            self.clock.advance(0.01)
            self.settle()


class RoutingTests(RouterTestCase):
    """
    Requests go to the node of their slot, in order, a turn's requests of
    a connection in one write.
    """

    def test_table(self):
        """
        The router asked a seed for C{CLUSTER SLOTS} and knows every slot.
        """
        self.assertEqual(self.router.table.covered(), 16384)
        self.assertEqual(self.router.state(), "ok")
        self.assertEqual(len(self.router.primaries()), 3)

    def test_bySlot(self):
        """
        A request goes to the node serving its key's slot.
        """
        for node in self.cluster.primaries:
            key = keyOn(node, self.cluster)
            result = self.send("SET", key, b"v")
            self.settle()
            self.assertEqual(result, [OK])
            self.assertEqual(node.data[key], b"v")

    def test_handshakeFirst(self):
        """
        A connection says C{HELLO 3} first, and writes requests only once
        it is answered.
        """
        node = self.cluster.primaries[1]
        key = keyOn(node, self.cluster)
        self.send("GET", key)
        self.settle()
        hellos = [a for a in node.received if a[0] == b"HELLO"]
        self.assertTrue(hellos)
        self.assertEqual(hellos[0][:2], [b"HELLO", b"3"])
        first = node.received.index(hellos[0])
        self.assertEqual(node.received[first + 1], [b"GET", key])

    def test_oneWritePerTurn(self):
        """
        Requests sent to one connection during a turn leave in one write,
        at the end of the turn; replies come in order.
        """
        node = self.cluster.primaries[0]
        keys = []
        n = 0
        while len(keys) < 5:
            key = b"a%d" % (n,)
            slot = keySlot(key)
            if self.cluster.owners[slot] is node and slot % POOL_SIZE == 0:
                keys.append(key)
            n += 1
        self.send("SET", keys[0], b"1")
        self.settle()
        transport = [c for c in node.connections
                     if c.protocol.index == 0][0]
        before = transport.writes
        results = [self.send("INCR", key) for key in keys]
        self.assertEqual(transport.writes, before)
        self.clock.advance(0)
        self.assertEqual(transport.writes, before + 1)
        self.settle()
        self.assertEqual(results, [[2], [1], [1], [1], [1]])

    def test_sameKeyKeepsOrder(self):
        """
        Requests on one key keep their order.
        """
        key = keyOn(self.cluster.primaries[2], self.cluster)
        results = [self.send("INCR", key) for _ in range(10)]
        self.settle()
        self.assertEqual(results, [[i] for i in range(1, 11)])

    def test_encoding(self):
        """
        Binary keys and values go through unchanged.
        """
        key = b"\x00\r\n{tag}"
        value = bytes(range(256))
        self.send("SET", key, value)
        result = self.send("GET", key)
        self.settle()
        self.assertEqual(result, [value])


class RedirectionTests(RouterTestCase):
    """
    MOVED, ASK, TRYAGAIN and CLUSTERDOWN.
    """

    def test_moved(self):
        """
        After a resharding the old node answers C{MOVED}: the router
        updates the slot, sends the request to the new node and asks for
        the slot table again.
        """
        old, new = self.cluster.primaries[0], self.cluster.primaries[1]
        key = keyOn(old, self.cluster)
        slot = keySlot(key)
        self.cluster.move([slot], new)
        refreshes = self.router.stats.refreshes
        result = self.send("SET", key, b"moved")
        self.settle()
        self.assertEqual(result, [OK])
        self.assertEqual(new.data[key], b"moved")
        self.assertNotIn(key, old.data)
        self.assertEqual(self.router.stats.moved, 1)
        self.assertEqual(self.router.slots[slot].address, new.address)
        self.later(0.2)
        self.assertGreater(self.router.stats.refreshes, refreshes)

    def test_movedElsewhere(self):
        """
        A request sent to another slot than its key's (a command whose
        keys the front end can't tell goes to any slot) follows the
        C{MOVED} to the slot the node names, and is answered there.
        """
        home, other = self.cluster.primaries[0], self.cluster.primaries[1]
        key = keyOn(home, self.cluster)
        home.data[key] = b"here"
        anySlot = keySlot(keyOn(other, self.cluster))
        result = []
        self.router.send([b"GET", key], anySlot, False).addCallback(
            result.append)
        self.settle()
        self.assertEqual(result, [b"here"])
        self.assertEqual(self.router.stats.moved, 1)

    def test_movedRefreshBounded(self):
        """
        Many MOVEDs ask for the slot table at most every 100 ms.
        """
        old, new = self.cluster.primaries[0], self.cluster.primaries[1]
        keys = [keyOn(old, self.cluster, b"m%d-" % (i,)) for i in range(20)]
        # The table keeps saying the old node, so every request is MOVED.
        self.cluster.advertised = list(self.cluster.owners)
        self.cluster.move({keySlot(k) for k in keys}, new)
        before = self.router.stats.refreshes
        for key in keys:
            self.send("GET", key)
        self.settle()
        self.later(0.05)
        for key in keys:
            self.send("GET", key)
        self.settle()
        self.assertLessEqual(self.router.stats.refreshes - before, 1)
        self.later(0.1)
        self.assertLessEqual(self.router.stats.refreshes - before, 2)

    def test_ask(self):
        """
        A slot being migrated: a key already moved gets C{ASK}; the
        router sends C{ASKING} and the request to the target together,
        and leaves the slot table as it was.
        """
        source, target = self.cluster.primaries[0], self.cluster.primaries[2]
        key = keyOn(source, self.cluster)
        slot = keySlot(key)
        target.data[key] = b"there"
        self.cluster.migrating[slot] = target
        self.cluster.importing[slot] = target
        result = self.send("GET", key)
        self.settle()
        self.assertEqual(result, [b"there"])
        self.assertEqual(self.router.stats.ask, 1)
        self.assertEqual(self.router.slots[slot].address, source.address)
        asked = target.received.index([b"ASKING"])
        self.assertEqual(target.received[asked + 1], [b"GET", key])

    def test_tryagain(self):
        """
        C{TRYAGAIN}: the request waits a little and is sent again.
        """
        node = self.cluster.primaries[1]
        key = keyOn(node, self.cluster)
        node.errors.extend([Error("TRYAGAIN Multiple keys request during "
                                  "rehashing of slot")] * 2)
        result = self.send("SET", key, b"v")
        self.settle()
        self.assertEqual(result, [])
        self.later(0.1)
        self.assertEqual(result, [OK])
        self.assertEqual(len(node.commands(b"SET")), 3)

    def test_clusterdownUntilTimeout(self):
        """
        C{CLUSTERDOWN} for longer than the timeout: the client gets an
        error within the timeout, not later.
        """
        node = self.cluster.primaries[1]
        key = keyOn(node, self.cluster)
        node.errors.extend([Error("CLUSTERDOWN The cluster is down")] * 1000)
        result = self.send("GET", key)
        self.later(self.timeout - 0.15)
        self.assertEqual(result, [])
        self.later(0.2)
        self.assertEqual(len(result), 1)
        self.assertIsInstance(result[0], Error)
        self.assertIn("backend unavailable", result[0])

    def test_clusterdownThenServed(self):
        """
        C{CLUSTERDOWN} for a while, then served: the reply comes.
        """
        node = self.cluster.primaries[1]
        key = keyOn(node, self.cluster)
        node.data[key] = b"v"
        node.errors.extend([Error("CLUSTERDOWN Hash slot not served")] * 5)
        result = self.send("GET", key)
        self.later(2)
        self.assertEqual(result, [b"v"])

    def test_otherErrorsAreReplies(self):
        """
        Any other error is the reply.
        """
        node = self.cluster.primaries[0]
        key = keyOn(node, self.cluster)
        node.errors.append(Error("WRONGTYPE Operation against a key holding "
                                 "the wrong kind of value"))
        result = self.send("GET", key)
        self.settle()
        self.assertEqual(result, [Error(
            "WRONGTYPE Operation against a key holding the wrong kind of "
            "value")])


class TopologyTests(RouterTestCase):
    """
    The slot table changes.
    """

    def test_periodicRefresh(self):
        """
        The slot table is asked for again every 10 s: a change seen
        there is used without any MOVED.
        """
        old, new = self.cluster.primaries[0], self.cluster.primaries[1]
        key = keyOn(old, self.cluster)
        self.cluster.move([keySlot(key)], new)
        self.clock.advance(routing.REFRESH_INTERVAL)
        self.settle()
        self.assertEqual(self.router.slots[keySlot(key)].address, new.address)
        self.send("GET", key)
        self.settle()
        self.assertEqual(self.router.stats.moved, 0)

    def test_newNode(self):
        """
        A node the router never heard of (a MOVED to it) is connected to.
        """
        old = self.cluster.primaries[0]
        new = self.cluster.replicas[0]  # promoted, say
        key = keyOn(old, self.cluster)
        self.cluster.move([keySlot(key)], new)
        result = self.send("SET", key, b"v")
        self.settle()
        self.assertEqual(result, [OK])
        self.assertEqual(new.data[key], b"v")

    def test_seedsDownThenUp(self):
        """
        No seed answers at first: requests wait (up to the timeout) and
        go once a seed answers.
        """
        router = Router(self.cluster.seeds(), self.clock,
                        self.cluster.connect, timeout=self.timeout)
        for node in self.cluster.primaries:
            node.down = True
        router.start()
        self.addCleanup(router.stop)
        key = keyOn(self.cluster.primaries[0], self.cluster)
        result = []
        router.send([b"GET", key], keySlot(key), False).addCallback(
            result.append)
        self.later(1)
        self.assertEqual(result, [])
        self.assertEqual(router.state(), "down")
        for node in self.cluster.primaries:
            node.down = False
        self.later(1.5)
        self.assertEqual(result, [None])
        self.assertEqual(router.state(), "ok")


class ConnectionLossTests(RouterTestCase):
    """
    A connection ends with requests on it.
    """

    def setUp(self):
        RouterTestCase.setUp(self)
        self.node = self.cluster.primaries[0]
        self.key = keyOn(self.node, self.cluster)
        self.send("SET", self.key, b"before")
        self.settle()

    def transport(self):
        slot = keySlot(self.key)
        return [c for c in self.node.connections
                if c.protocol.index == slot % POOL_SIZE][0]

    def test_ambiguousWrite(self):
        """
        A write written before the connection dropped, and not answered:
        the client gets an error saying it may or may not have been
        applied; it is never sent again.
        """
        transport = self.transport()
        self.node.hung = True
        result = self.send("SET", self.key, b"after")
        self.clock.advance(0)  # written
        transport.drop()
        self.node.hung = False
        self.later(1)
        self.assertEqual(len(result), 1)
        self.assertIsInstance(result[0], Error)
        self.assertIn("may or may not have been applied", result[0])
        self.assertEqual(len(self.node.commands(b"SET")), 2)
        self.assertEqual(self.router.stats.ambiguous, 1)

    def test_readRetried(self):
        """
        A read written before the connection dropped is sent again.
        """
        transport = self.transport()
        self.node.hung = True
        result = self.send("GET", self.key)
        self.clock.advance(0)
        transport.drop()
        self.node.hung = False
        self.later(1)
        self.assertEqual(result, [b"before"])
        self.assertEqual(len(self.node.commands(b"GET")), 2)

    def test_unsentWriteRetried(self):
        """
        A write that was not written yet when the connection ended is
        sent on the next connection: it can't have been applied.
        """
        transport = self.transport()
        result = self.send("SET", self.key, b"after")
        # Lost before the end of the turn: nothing written.
        transport.closed = True
        self.node.connections.remove(transport)
        transport.protocol.connectionLost(Failure(ConnectionDone()))
        self.later(1)
        self.assertEqual(result, [OK])
        self.assertEqual(self.node.data[self.key], b"after")

    def test_nodeDownUntilFailover(self):
        """
        The node dies and refuses connections; once the slot table names
        another node for its slots, requests go there, within the
        timeout.
        """
        transport = self.transport()
        self.node.down = True
        transport.drop()
        replica = self.cluster.replicas[0]
        result = self.send("GET", self.key)
        self.later(1)
        self.assertEqual(result, [])
        self.cluster.move(
            [s for s in range(16384) if self.cluster.owners[s] is self.node],
            replica)
        self.later(1.5)
        self.assertEqual(result, [b"before"])

    def test_timeoutDropsConnection(self):
        """
        A node that reads but never answers: the client gets an error
        within the timeout, and the connection is dropped (the next
        request gets a new one).
        """
        self.node.hung = True
        result = self.send("GET", self.key)
        self.later(self.timeout + 0.05)
        self.assertEqual(len(result), 1)
        self.assertIn("backend timeout", result[0])
        self.assertIn(str(self.node.address), result[0])
        self.node.hung = False
        self.later(1.5)
        again = self.send("GET", self.key)
        self.later(0.1)
        self.assertEqual(again, [b"before"])

    def test_allDown(self):
        """
        Every node down: a clear error within the timeout; service again
        once they are back.
        """
        for node in self.cluster.nodes:
            node.down = True
            for transport in list(node.connections):
                transport.drop()
        result = self.send("GET", self.key)
        self.later(self.timeout)
        self.assertEqual(len(result), 1)
        self.assertIn("backend unavailable", result[0])
        self.assertEqual(self.router.state(), "down")
        for node in self.cluster.nodes:
            node.down = False
        self.later(2)
        again = self.send("GET", self.key)
        self.later(0.2)
        self.assertEqual(again, [b"before"])
        self.assertEqual(self.router.state(), "ok")

    def test_wrongPassword(self):
        """
        A node refusing the handshake: requests wait for it (the error
        says why when they time out).
        """
        for transport in list(self.node.connections):
            transport.drop()
        self.node.password = b"secret"
        result = self.send("GET", self.key)
        self.later(self.timeout)
        self.assertEqual(len(result), 1)
        self.assertIn("WRONGPASS", result[0])


class WaitTests(RouterTestCase):
    """
    C{--backend-wait 1}: writes are confirmed by C{WAIT}.
    """

    waitReplicas = 1

    def test_oneWaitPerTurn(self):
        """
        The writes of a turn on one connection are followed by one
        C{WAIT}; confirmed, they get their replies.
        """
        node = self.cluster.primaries[0]
        key = keyOn(node, self.cluster)
        results = [self.send("INCR", key) for _ in range(3)]
        read = self.send("GET", key)
        self.settle()
        self.assertEqual(results, [[1], [2], [3]])
        self.assertEqual(read, [b"3"])
        self.assertEqual(node.commands(b"WAIT"), [[b"WAIT", b"1", b"1000"]])

    def test_notConfirmed(self):
        """
        Fewer replicas than asked: the write gets an error saying it was
        applied on the primary but not confirmed.
        """
        node = self.cluster.primaries[0]
        node.acks = 0
        key = keyOn(node, self.cluster)
        result = self.send("SET", key, b"v")
        self.settle()
        self.assertEqual(len(result), 1)
        self.assertIn("applied on the primary", result[0])
        self.assertIn("not confirmed on 1 replica", result[0])
        self.assertEqual(node.data[key], b"v")
        self.assertEqual(self.router.stats.unconfirmed, 1)

    def test_readsNoWait(self):
        """
        A turn of reads only sends no C{WAIT}.
        """
        node = self.cluster.primaries[1]
        key = keyOn(node, self.cluster)
        self.send("GET", key)
        self.settle()
        self.assertEqual(node.commands(b"WAIT"), [])

    def test_lostBeforeWait(self):
        """
        The connection drops after a write's reply but before its WAIT's:
        applied, not confirmed.
        """
        node = self.cluster.primaries[0]
        key = keyOn(node, self.cluster)
        self.send("SET", key, b"v")
        self.settle()
        transport = [c for c in node.connections
                     if c.protocol.index == keySlot(key) % POOL_SIZE][0]
        node.hung = True
        result = self.send("SET", key, b"w")
        self.clock.advance(0)  # written with its WAIT
        self.assertEqual(node.commands(b"WAIT")[-1], [b"WAIT", b"1",
                                                      b"1000"])
        protocol = transport.protocol
        protocol.dataReceived(b"+OK\r\n")
        self.assertEqual(result, [])
        transport.closed = True
        node.connections.remove(transport)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(len(result), 1)
        self.assertIn("not confirmed", result[0])


class TransactionTests(RouterTestCase):
    """
    C{MULTI} ... C{EXEC} and dedicated connections.
    """

    def test_transactionTogether(self):
        """
        A transaction's commands are written as one piece with C{MULTI}
        and C{EXEC}; its reply is C{EXEC}'s.
        """
        node = self.cluster.primaries[1]
        key = keyOn(node, self.cluster)
        result = []
        self.router.sendTransaction(
            [[b"SET", key, b"1"], [b"INCR", key]], keySlot(key),
            True).addCallback(result.append)
        self.settle()
        self.assertEqual(result, [[OK, 2]])
        names = [a[0] for a in node.received if a[0] != b"HELLO"]
        self.assertEqual(names, [b"MULTI", b"SET", b"INCR", b"EXEC"])

    def test_transactionMoved(self):
        """
        A transaction whose slot moved: the node refused to queue its
        commands (EXECABORT); the whole of it goes to the new node.
        """
        old, new = self.cluster.primaries[0], self.cluster.primaries[1]
        key = keyOn(old, self.cluster)
        self.cluster.move([keySlot(key)], new)
        result = []
        self.router.sendTransaction([[b"SET", key, b"1"]], keySlot(key),
                                    True).addCallback(result.append)
        self.settle()
        self.assertEqual(result, [[OK]])
        self.assertEqual(new.data[key], b"1")

    def test_dedicated(self):
        """
        A blocking command waits on a connection of its own, not one of
        the pool; once answered, the connection is kept for the next.
        """
        node = self.cluster.primaries[2]
        key = keyOn(node, self.cluster)
        node.data[key] = [b"a", b"b"]
        pooled = len(node.connections)
        request = self.router.sendDedicated([b"BLPOP", key, b"0"],
                                            keySlot(key), True, None)
        result = []
        request.deferred.addCallback(result.append)
        self.settle()
        self.assertEqual(result, [[key, b"a"]])
        self.assertEqual(request.connection.index, -1)
        self.assertEqual(len(node.connections), pooled + 1)
        self.assertEqual(self.router.node(node.address).idle,
                         [request.connection])

    def test_blockedTimeout(self):
        """
        A blocking command that outlives its own timeout plus the
        router's gets an error, and its connection is closed.
        """
        node = self.cluster.primaries[2]
        key = keyOn(node, self.cluster)
        request = self.router.sendDedicated([b"BLPOP", key, b"1"],
                                            keySlot(key), True, 1.0)
        result = []
        request.deferred.addCallback(result.append)
        self.later(1 + self.timeout - 0.1)
        self.assertEqual(result, [])
        self.later(0.2)
        self.assertEqual(len(result), 1)
        self.assertIn("backend timeout", result[0])
        self.assertTrue(request.connection.ended)

    def test_cancel(self):
        """
        The client of a blocked command left: its connection is closed
        (so that nothing is popped for nobody).
        """
        node = self.cluster.primaries[2]
        key = keyOn(node, self.cluster)
        request = self.router.sendDedicated([b"BLPOP", key, b"0"],
                                            keySlot(key), True, None)
        self.settle()
        self.router.cancel(request, "client gone")
        self.settle()
        self.assertTrue(request.connection.ended)
        node.data[key] = [b"x"]
        self.assertEqual(node.data[key], [b"x"])
