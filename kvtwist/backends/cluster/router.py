# -*- test-case-name: kvtwist.test.test_cluster_router -*-
"""
The router: sends each request to the node serving its hash slot, follows
the cluster's redirections, and bounds every wait.

    - The slot table comes from C{CLUSTER SLOTS}, asked again on a
      C{MOVED} (at most every L{MIN_REFRESH} seconds), on a connection
      error and every L{REFRESH_INTERVAL} seconds.
    - C{MOVED}: the slot's entry is updated and the request sent again.
      C{ASK}: C{ASKING} and the request go to the node named, the table
      unchanged.  C{TRYAGAIN}, C{CLUSTERDOWN}, C{LOADING}, C{READONLY},
      C{MASTERDOWN}: the request waits and is sent again (with backoff).
      Those errors mean the node did not run it, so sending it again is
      safe.
    - A request whose connection ended after it was written is sent
      again if it is a read; a write gets an error saying it may or may
      not have been applied, never a blind retry.
    - Each node has a small pool of connections; a request goes to the
      one of its slot (C{slot % POOL_SIZE}), so requests on one key keep
      their order.  Requests waiting for a node (unknown slot, node being
      reconnected) wait in order, and later requests of their slot wait
      behind them.
    - With C{--backend-wait N:MS}, each connection's writes of a turn are
      followed by one C{WAIT N MS}, whose answer confirms them all or
      turns their replies into errors.
    - No request waits longer than the timeout: it then gets an error
      that says what it waited for.
"""

import random
from collections import deque
from typing import Callable, Dict, List, Optional

from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from kvtwist.backends.cluster.connection import (
    IGNORED, NodeConnection, NodeConnector, helloRequest)
from kvtwist.backends.cluster.reader import encode
from kvtwist.backends.cluster.requests import (
    NOTHING, REDIRECT_CODES, RETRY_CODES, Request, Transaction, WaitMarker)
from kvtwist.backends.cluster.shapes import redis70Double, shortestDouble
from kvtwist.backends.cluster.slots import (
    SLOTS, Address, SlotTable, parseAddress, parseClusterSlots)
from kvtwist.protocol.writer import EndOfTurn
from kvtwist.replies import Error

#: Connections per node, requests spread over them by slot.
POOL_SIZE = 2
#: Least seconds between two C{CLUSTER SLOTS} asked because of C{MOVED}.
MIN_REFRESH = 0.1
#: Seconds between two C{CLUSTER SLOTS} asked anyway.
REFRESH_INTERVAL = 10.0
#: Most redirections one request follows.
MAX_REDIRECTS = 16
#: Seconds a node that could not be reached is left alone, at first and
#: at most (doubling in between).
NODE_BACKOFF = (0.1, 1.0)
#: Seconds between two tries of requests that wait, at first and at most.
RETRY_BACKOFF = (0.01, 0.25)

_ASKING = encode([b"ASKING"])
#: Idle dedicated connections kept per node.
MAX_IDLE = 4


class Node:
    """
    A node of the cluster, as the router knows it.

    @ivar address: where it listens.
    @ivar pool: its pooled connections (L{None} where none is open).
    @ivar idle: connections that were dedicated to a client and may be
        again.
    @ivar downUntil: until when it is left alone after a failed connect.
    @ivar backoff: the next such pause.
    @ivar lastError: why its last connection failed or ended, or L{None}.
    @ivar reachable: whether its last connection attempt succeeded.
    """

    __slots__ = ("address", "pool", "idle", "downUntil", "backoff",
                 "lastError", "reachable")

    def __init__(self, address: Address):
        self.address = address
        self.pool: List[Optional[NodeConnection]] = [None] * POOL_SIZE
        self.idle: List[NodeConnection] = []
        self.downUntil = 0.0
        self.backoff = NODE_BACKOFF[0]
        self.lastError: Optional[str] = None
        self.reachable = True

    def __str__(self) -> str:
        return str(self.address)

    def __repr__(self) -> str:
        return "<Node %s>" % (self.address,)


class RouterStats:
    """
    What the router counted, for INFO and C{/metrics}.
    """

    def __init__(self):
        self.moved = 0
        self.ask = 0
        self.retries = 0
        self.connectionErrors = 0
        self.timeouts = 0
        self.ambiguous = 0
        self.unconfirmed = 0
        self.refreshes = 0
        self.refreshErrors = 0


class Router:
    """
    Routes requests to the nodes of one cluster (see the module's
    docstring).

    @ivar table: the last L{SlotTable}, or L{None} before the first.
    @ivar stats: the L{RouterStats}.
    @ivar timeout: seconds a request may wait for its answer.
    """

    _log = Logger()

    def __init__(self, seeds: List[Address], clock, connect: Callable,
                 timeout: float = 5.0, password: Optional[bytes] = None,
                 waitReplicas: int = 0, waitMs: int = 1000,
                 rng: Optional[random.Random] = None):
        """
        @param seeds: nodes to ask for the slot table first.
        @param clock: an L{IReactorTime}.
        @param connect: C{connect(host, port, factory, timeout)}: starts
            a connection (C{reactor.connectTCP}, or a TLS one).
        @param timeout: see the instance variable.
        @param password: the nodes' password, or L{None}.
        @param waitReplicas: replicas each write must reach before its
            reply (0: don't wait).
        @param waitMs: how long the C{WAIT} for them lasts.
        """
        self.seeds = list(seeds)
        self.clock = clock
        self._seconds = clock.seconds
        self._connect = connect
        self.timeout = timeout
        self.waitReplicas = waitReplicas
        self.waitMs = waitMs
        self._waitData = encode([b"WAIT", b"%d" % (waitReplicas,),
                                 b"%d" % (waitMs,)])
        self._hello = helloRequest(password)
        self._rng = rng or random.Random()
        self.endOfTurn = EndOfTurn(clock)
        self.nodes: Dict[Address, Node] = {}
        self.slots: List[Optional[Node]] = [None] * SLOTS
        self.table: Optional[SlotTable] = None
        self.stats = RouterStats()
        self._inflight = deque()
        self._parked = deque()
        self._parkedSlots: Dict[int, int] = {}
        self._retryCall = None
        self._retryDelay = RETRY_BACKOFF[0]
        self._refreshing = False
        self._refreshAgain = False
        self._refreshCall = None
        self._lastRefresh = -MIN_REFRESH
        self.lastRefreshError: Optional[str] = None
        self._tableWaiters: List[Deferred] = []
        self._loops: List[LoopingCall] = []
        self._tick = min(0.1, timeout / 10.0)
        self.stopped = False
        self.doubleText = redis70Double
        self._unreachable = False
        self.pushHandler: Optional[Callable] = None

    # -- life -------------------------------------------------------------

    def start(self) -> None:
        """
        Ask for the slot table now and every L{REFRESH_INTERVAL} seconds;
        check for requests waiting past the timeout every tick.
        """
        self.stopped = False
        for interval, work in ((self._tick, self._sweep),
                               (REFRESH_INTERVAL, self.refresh)):
            loop = LoopingCall(work)
            loop.clock = self.clock
            loop.start(interval, now=False).addErrback(
                lambda f: self._log.failure("cluster router loop failed", f))
            self._loops.append(loop)
        self.refresh()

    def stop(self) -> None:
        """
        Stop the loops, end every connection; what still waits gets an
        error.
        """
        self.stopped = True
        for loop in self._loops:
            if loop.running:
                loop.stop()
        self._loops = []
        for call in (self._retryCall, self._refreshCall):
            if call is not None and call.active():
                call.cancel()
        self._retryCall = self._refreshCall = None
        parked, self._parked = self._parked, deque()
        self._parkedSlots.clear()
        for request in parked:
            request.finish(Error("ERR the server is shutting down"))
        for node in list(self.nodes.values()):
            for connection in node.pool + node.idle:
                if connection is not None:
                    connection.abort("the server is shutting down")
        for d in self._tableWaiters:
            d.callback(None)
        self._tableWaiters = []

    def whenTable(self) -> Deferred:
        """
        A Deferred firing (with L{None}) once a slot table is known.
        """
        d = Deferred()
        if self.table is not None:
            d.callback(None)
        else:
            self._tableWaiters.append(d)
        return d

    # -- sending ------------------------------------------------------------

    def send(self, argv: List[bytes], slot: int, write: bool) -> Deferred:
        """
        Send a request to the node serving C{slot}.

        @return: a Deferred firing with the reply (an error reply for
            every failure; it never fails).
        """
        return self.sendLater(argv, slot, write).deferred

    def sendLater(self, argv: List[bytes], slot: int, write: bool
                  ) -> Request:
        """
        L{send}, its reply a L{Later} (the request itself) rather than a
        Deferred: what a client's command routed to its slot gets.
        """
        request = Request(argv, slot, write, self._seconds())
        self._inflight.append(request)
        if not self._parkedSlots:
            # The usual way, inline: the slot's node has its connection.
            node = self.slots[slot]
            if node is not None:
                connection = node.pool[slot % POOL_SIZE]
                if connection is not None:
                    request.connection = connection
                    connection.enqueue(request, request.data, write)
                    return request
        self._dispatch(request)
        return request

    def sendToNode(self, address: Address, argv: List[bytes],
                   write: bool = False, raw: bool = False) -> Deferred:
        """
        Send a request to one node (C{KEYS}, C{SCAN}, C{DBSIZE} on each
        primary; the router's own C{CLUSTER SLOTS}).

        @param raw: give any reply as it is (no retry on C{LOADING}...).
        @return: as L{send}.
        """
        request = Request(argv, None, write, self._seconds(),
                          self.node(address), raw)
        self._inflight.append(request)
        self._dispatch(request)
        return request.deferred

    def sendDedicated(self, argv: List[bytes], slot: int, write: bool,
                      blockFor: Optional[float], keep: bool = False
                      ) -> Request:
        """
        Send a request on a connection of its own (a blocking command:
        it holds its connection while it waits; a C{WATCH}: the
        transaction that follows must use the same connection).

        @param blockFor: how long the command may block, in seconds
            (L{None}: for ever); its reply may then take that long plus
            the timeout.
        @param keep: keep the connection for the caller (L{sendOn},
            L{release}) rather than taking it back once answered.
        @return: the L{Request} (its C{deferred} fires with the reply;
            its C{connection} is the one used).
        """
        request = Request(argv, slot, write, self._seconds())
        request.dedicated = True
        request.keep = keep
        if blockFor is not None:
            request.timer = self.clock.callLater(
                blockFor + self.timeout, self._blockedTooLong, request)
        self._inflight.append(request)
        if not keep:
            request.deferred.addBoth(self._released, request)
        self._dispatch(request)
        return request

    def sendOn(self, connection: NodeConnection, argv: List[bytes],
               write: bool, transaction: Optional[List[List[bytes]]] = None
               ) -> Deferred:
        """
        Send a request on a connection kept by L{sendDedicated}; a lost
        connection or a redirection is an error (a C{WATCH} can't be
        moved).

        @param transaction: commands to send as one L{Transaction}
            (C{argv} is then ignored).
        """
        if transaction is not None:
            request = Transaction(transaction, -1, write, self._seconds())
        else:
            request = Request(argv, -1, write, self._seconds())
        request.pinned = connection
        self._inflight.append(request)
        self._dispatch(request)
        return request.deferred

    def sendTransaction(self, argvs: List[List[bytes]], slot: int,
                        write: bool) -> Deferred:
        """
        Send C{MULTI}, C{argvs} and C{EXEC} together to C{slot}'s node
        (see L{Transaction}); fire with C{EXEC}'s reply.
        """
        request = Transaction(argvs, slot, write, self._seconds())
        self._inflight.append(request)
        self._dispatch(request)
        return request.deferred

    def release(self, connection: NodeConnection) -> None:
        """
        Take back a connection kept by L{sendDedicated}.
        """
        node = connection.node
        if connection.ended:
            return
        if connection.inFlight or len(node.idle) >= MAX_IDLE or \
                self.stopped:
            connection.abort("no longer needed")
            return
        node.idle.append(connection)

    def cancel(self, request: Request, why: str) -> None:
        """
        Nobody waits for C{request} any more (its client left): answer it,
        and end its dedicated connection if it still waits there (a
        blocking command must not take data for nobody).
        """
        connection = request.connection
        if not request.done:
            request.finish(Error("ERR " + why))
        if request.dedicated and connection is not None and \
                not connection.ended and connection.inFlight:
            connection.abort(why)

    def _released(self, result, request: Request):
        timer = request.timer
        if timer is not None and timer.active():
            timer.cancel()
        connection = request.connection
        if connection is not None and connection.index < 0:
            self.release(connection)
        return result

    def _blockedTooLong(self, request: Request) -> None:
        request.timer = None
        if request.done:
            return
        self.stats.timeouts += 1
        connection = request.connection
        where = connection.node if connection is not None else "the cluster"
        request.finish(Error(
            "ERR backend timeout: no reply from %s within the command's "
            "own timeout plus %gs%s" % (
                where, self.timeout, ": it may or may not have been applied"
                if request.write else "")))
        if connection is not None and not connection.ended:
            connection.abort("a blocking command outlived its timeout")

    def node(self, address: Address) -> Node:
        """
        The L{Node} at C{address}, made if new.
        """
        node = self.nodes.get(address)
        if node is None:
            node = self.nodes[address] = Node(address)
        return node

    def _dispatch(self, request: Request) -> None:
        pinned = request.pinned
        if pinned is not None:
            if pinned.ended:
                request.finish(Error(
                    "ERR backend connection to %s (which held this "
                    "client's WATCH) was lost: %s" % (pinned.node,
                                                      pinned.lostReason)))
            else:
                request.enqueueOn(pinned)
            return
        slot = request.slot
        if slot is None:
            node = request.node
            index = 0
        else:
            if self._parkedSlots and slot in self._parkedSlots:
                self._park(request)
                return
            node = self.slots[slot]
            if node is None:
                self._park(request)
                if self.table is not None:
                    self.refresh()
                return
            index = slot % POOL_SIZE
        if request.dedicated:
            connection = None
            idle = node.idle
            while idle:
                candidate = idle.pop()
                if not candidate.ended:
                    connection = candidate
                    break
            index = -1
        else:
            connection = node.pool[index]
        if connection is None:
            if node.downUntil > self._seconds():
                if slot is None:
                    request.finish(self._unreachableError(node))
                else:
                    self._park(request)
                return
            connection = self._open(node, index)
        request.enqueueOn(connection)

    def _open(self, node: Node, index: int) -> NodeConnection:
        connection = NodeConnection(self, node, index, self._hello,
                                    self.endOfTurn)
        if index >= 0:
            node.pool[index] = connection
        connector = self._connect(node.address.host, node.address.port,
                                  NodeConnector(connection),
                                  min(self.timeout, 5.0))
        connection.connector = connector
        return connection

    def _unreachableError(self, node: Node) -> Error:
        return Error("ERR backend node %s is unreachable: %s"
                     % (node.address, node.lastError or "unknown error"))

    # -- waiting and trying again ----------------------------------------------

    def _park(self, request: Request) -> None:
        """
        Keep C{request} until its slot has a node that can be reached;
        later requests of its slot wait behind it.
        """
        self._parked.append(request)
        slot = request.slot
        self._parkedSlots[slot] = self._parkedSlots.get(slot, 0) + 1
        if self._retryCall is None:
            self._retryCall = self.clock.callLater(self._retryDelay,
                                                   self._unpark)

    def _unpark(self) -> None:
        """
        Send the waiting requests again, in order; those that still can't
        go wait again, a little longer each time nothing could.
        """
        self._retryCall = None
        parked, self._parked = self._parked, deque()
        self._parkedSlots.clear()
        waiting = 0
        for request in parked:
            if request.done:
                continue
            waiting += 1
            self._dispatch(request)
        if self._parked:
            if len(self._parked) >= waiting:
                self._retryDelay = min(self._retryDelay * 2,
                                       RETRY_BACKOFF[1])
            else:
                self._retryDelay = RETRY_BACKOFF[0]
            if self._retryCall is None:
                self._retryCall = self.clock.callLater(self._retryDelay,
                                                       self._unpark)
        else:
            self._retryDelay = RETRY_BACKOFF[0]

    def _unparkSoon(self) -> None:
        if self._parked:
            if self._retryCall is not None and self._retryCall.active():
                self._retryCall.cancel()
            self._retryCall = None
            self._retryDelay = RETRY_BACKOFF[0]
            self._unpark()

    # -- what connections report -----------------------------------------------

    def errorReplied(self, request: Request, connection: NodeConnection,
                     reply: Error) -> None:
        """
        A request got an error: follow a redirection, or wait and send it
        again when the node did not run it; else it is the answer.
        """
        code = reply.split(" ", 1)[0]
        if request.pinned is not None:
            if code in REDIRECT_CODES:
                # The watched slot moved, or its node can't run it now:
                # the transaction is aborted, as when a watched key
                # changed.
                request.finish(None if isinstance(request, Transaction)
                               else Error("ERR the key's slot is moving or "
                                          "unavailable (%s): try again"
                                          % (reply,)))
            else:
                request.finish(reply)
            return
        if code in REDIRECT_CODES:
            request.marker = None
        if code == "MOVED" or code == "ASK":
            try:
                _, slotText, where = reply.split(" ", 2)
                slot = int(slotText)
                address = parseAddress(where.strip(),
                                       connection.node.address.host)
            except ValueError:
                request.finish(reply)
                return
            request.redirects += 1
            if request.redirects > MAX_REDIRECTS:
                request.finish(Error(
                    "ERR backend: too many redirections for slot %d (last: "
                    "%s)" % (slot, reply)))
                return
            node = self.node(address)
            if code == "MOVED":
                self.stats.moved += 1
                self.slots[slot] = node
                self.refresh()
                # The slot the node named is the request's from now on:
                # a request sent to any slot (keys the front end couldn't
                # tell) would else go to the same wrong node again.
                request.slot = slot
                self._dispatch(request)
            else:
                self.stats.ask += 1
                self._ask(request, node, slot)
            return
        if code in RETRY_CODES:
            self.stats.retries += 1
            if code != "LOADING" and code != "TRYAGAIN":
                self.refresh()
            if request.slot is None:
                self._later(request)
            else:
                self._park(request)
            return
        if request.marker is not None:
            # A write that failed changed nothing: no WAIT needed.
            request.marker = None
        request.finish(reply)

    def _later(self, request: Request) -> None:
        """
        Send a request to a node again after a pause (C{LOADING}).
        """
        request.tries += 1
        delay = min(RETRY_BACKOFF[0] * 2 ** request.tries, RETRY_BACKOFF[1])
        self.clock.callLater(delay, self._dispatch, request)

    def _ask(self, request: Request, node: Node, slot: int) -> None:
        """
        C{ASK}: the slot is moving; this request's key is on C{node}:
        C{ASKING} then the request, together, there.  (A transaction
        waits and goes again: C{ASKING} covers one command.)
        """
        if isinstance(request, Transaction) or request.dedicated:
            self._park(request)
            return
        index = slot % POOL_SIZE
        connection = node.pool[index]
        if connection is None:
            if node.downUntil > self._seconds():
                self._park(request)
                return
            connection = self._open(node, index)
        request.connection = connection
        connection.enqueueMany([IGNORED, request], _ASKING + request.data,
                               request.write)

    def requestLost(self, request: Request, connection: NodeConnection,
                    sent: bool) -> None:
        """
        A request's connection ended before its reply: a write that was
        written may have been applied (it gets an error saying so); any
        other request is sent again.
        """
        if sent and request.write:
            self.stats.ambiguous += 1
            request.finish(Error(
                "ERR backend connection to %s was lost after the write was "
                "sent (%s): it may or may not have been applied"
                % (connection.node.address, connection.lostReason)))
        elif request.raw:
            request.finish(Error("ERR backend connection to %s lost: %s"
                                 % (connection.node.address,
                                    connection.lostReason)))
        else:
            self._dispatch(request)

    def beforeFlush(self, connection: NodeConnection) -> None:
        """
        A connection is about to write a turn's requests, writes among
        them: with C{--backend-wait}, one C{WAIT} follows them.
        """
        if not self.waitReplicas:
            return
        writes = [w for w in connection.writes if not w.done]
        if not writes:
            return
        marker = WaitMarker(writes)
        for request in writes:
            request.marker = marker
        connection.out.append(self._waitData)
        connection.unsent.append(marker)

    def waitReplied(self, marker: WaitMarker, connection: NodeConnection,
                    reply) -> None:
        """
        A C{WAIT} answered (or its connection ended): the writes it
        covers get their reply if enough replicas have them, else an
        error that says the write was applied on the primary but not
        confirmed.
        """
        wanted = self.waitReplicas
        confirmed = reply.__class__ is int and reply >= wanted
        for request in marker.writes:
            if request.done or request.marker is not marker:
                continue
            request.marker = None
            if request.reply is NOTHING:
                # Its own reply never came: the connection ended.
                self.requestLost(request, connection, True)
                continue
            if confirmed:
                request.finish(request.reply)
            else:
                self.stats.unconfirmed += 1
                if reply.__class__ is int:
                    how = "%d of %d replicas acknowledged it within %d ms" % (
                        reply, wanted, self.waitMs)
                else:
                    how = "WAIT failed: %s" % (reply,)
                request.finish(Error(
                    "ERR write applied on the primary %s but not confirmed "
                    "on %d replica%s (%s)" % (
                        connection.node.address, wanted,
                        "" if wanted == 1 else "s", how)))

    def connectionReady(self, connection: NodeConnection) -> None:
        """
        A connection was made and greeted: its node is reachable (and the
        nodes' version says how they write doubles).
        """
        version = connection.version
        if version is not None:
            self.doubleText = shortestDouble if version >= (7, 2) \
                else redis70Double
        node = connection.node
        node.reachable = True
        node.lastError = None
        node.backoff = NODE_BACKOFF[0]
        node.downUntil = 0.0

    def connectionEnded(self, connection: NodeConnection, why: str,
                        unsent: list, pending: list) -> None:
        """
        A connection ended (or was never made): its node is left alone a
        while if it could not be reached, requests not written are sent
        again, those written are judged by L{requestLost}; the slot table
        is asked for again.
        """
        node = connection.node
        if connection.index >= 0 and node.pool[connection.index] is \
                connection:
            node.pool[connection.index] = None
        if connection in node.idle:
            node.idle.remove(connection)
        if self.stopped:
            for entry in unsent + pending:
                if isinstance(entry, Request):
                    entry.finish(Error("ERR the server is shutting down"))
            return
        self.stats.connectionErrors += 1
        node.lastError = why
        node.reachable = False
        self._unreachable = True
        node.downUntil = self._seconds() + node.backoff
        node.backoff = min(node.backoff * 2, NODE_BACKOFF[1])
        self._log.info("connection to cluster node {node} ended: {why}",
                       node=str(node), why=why)
        for entry in unsent:
            entry.lost(connection, False)
        for entry in pending:
            entry.lost(connection, True)
        self.refresh()

    def push(self, connection: NodeConnection, message) -> None:
        """
        A push message (pub/sub) came on a connection.
        """
        if self.pushHandler is not None:
            self.pushHandler(connection, message)

    # -- timeouts ------------------------------------------------------------

    def _sweep(self) -> None:
        """
        Answer the requests that would wait past the timeout before the
        next sweep with an error saying what they waited for; a
        connection on which one waited is dropped (the node is stuck or
        cut off).
        """
        if self._unreachable and self.table is not None:
            self._probeUnreachable()
        limit = self._seconds() - self.timeout + self._tick
        inflight = self._inflight
        while inflight:
            request = inflight[0]
            if request.done:
                inflight.popleft()
                continue
            if request.born > limit:
                break
            inflight.popleft()
            self._timedOut(request)

    def _timedOut(self, request: Request) -> None:
        connection = request.connection
        if request.dedicated and connection is not None and \
                not connection.ended and request in connection.pending:
            # A blocking command waiting on its node: its own timer.
            return
        self.stats.timeouts += 1
        seconds = "%gs" % (self.timeout,)
        if connection is not None and not connection.ended and (
                request in connection.pending or
                request in connection.unsent or request.marker is not None):
            node = connection.node
            if request.write:
                what = ("no reply from %s within %s: the write may or may "
                        "not have been applied" % (node, seconds))
            else:
                what = "no reply from %s within %s" % (node, seconds)
            request.finish(Error("ERR backend timeout: " + what))
            connection.abort("no reply within %s" % (seconds,))
            return
        if request.slot is None:
            where = "node %s" % (request.node,)
        else:
            where = "slot %d" % (request.slot,)
            node = self.slots[request.slot]
            if node is not None:
                where += " (node %s: %s)" % (
                    node, node.lastError or "not reachable")
            elif self.lastRefreshError:
                where += " (%s)" % (self.lastRefreshError,)
        request.finish(Error(
            "ERR backend unavailable: no node could serve %s within %s"
            % (where, seconds)))

    # -- the slot table ------------------------------------------------------

    def refresh(self) -> None:
        """
        Ask for the slot table: now, or after L{MIN_REFRESH} seconds since
        the last time; once at a time.
        """
        if self.stopped:
            return
        if self._refreshing:
            self._refreshAgain = True
            return
        wait = self._lastRefresh + MIN_REFRESH - self._seconds()
        if wait > 0:
            if self._refreshCall is None:
                self._refreshCall = self.clock.callLater(wait,
                                                         self._refreshNow)
            return
        self._refreshNow()

    def _refreshNow(self) -> None:
        self._refreshCall = None
        if self.stopped:
            return
        self._refreshing = True
        self._refreshAgain = False
        self._lastRefresh = self._seconds()
        self.stats.refreshes += 1
        self._askSlots(self._refreshCandidates(), [])

    def _refreshCandidates(self) -> List[Address]:
        """
        Whom to ask, best first: nodes with a connection open, then the
        other nodes of the table, then the seeds, then nodes left alone.
        """
        now = self._seconds()
        connected, known, resting = [], [], []
        addresses = self.table.allAddresses() if self.table else []
        for address in addresses + self.seeds:
            node = self.nodes.get(address)
            if node is not None and node.downUntil > now:
                resting.append(address)
            elif node is not None and any(
                    c is not None and c.ready for c in node.pool):
                connected.append(address)
            else:
                known.append(address)
        order = []
        for address in connected + known + resting:
            if address not in order:
                order.append(address)
        return order

    def _askSlots(self, candidates: List[Address], errors: List[str]
                  ) -> None:
        if not candidates:
            self._refreshFailed(errors)
            return
        address = candidates.pop(0)
        node = self.node(address)
        if node.downUntil > self._seconds() and candidates:
            # Left alone for now: try it last.
            errors.append("%s: %s" % (address, node.lastError))
            self._askSlots(candidates, errors)
            return
        if node.downUntil > self._seconds():
            node.downUntil = 0.0
        d = self.sendToNode(address, [b"CLUSTER", b"SLOTS"], raw=True)
        d.addCallback(self._gotSlots, address, candidates, errors)
        d.addErrback(lambda f: self._log.failure("slot table refresh", f))

    def _gotSlots(self, reply, address: Address, candidates: List[Address],
                  errors: List[str]) -> None:
        if self.stopped:
            return
        problem = None
        if reply.__class__ is Error:
            problem = str(reply)
        else:
            try:
                ranges = parseClusterSlots(reply, address)
            except (ValueError, TypeError, IndexError) as e:
                problem = "unreadable CLUSTER SLOTS reply: %s" % (e,)
            else:
                if not ranges:
                    problem = "it serves no slots (not joined yet?)"
        if problem is not None:
            errors.append("%s: %s" % (address, problem))
            self._askSlots(candidates, errors)
            return
        self._apply(SlotTable(ranges))
        self._refreshing = False
        self.lastRefreshError = None
        if self._refreshAgain:
            self.refresh()

    def _refreshFailed(self, errors: List[str]) -> None:
        self._refreshing = False
        self.stats.refreshErrors += 1
        why = "; ".join(errors) or "no node known"
        if why != self.lastRefreshError:
            self._log.warn("cannot get the cluster's slot table: {why}",
                           why=why)
        self.lastRefreshError = "no node answered CLUSTER SLOTS: " + why
        if self._refreshCall is None and not self.stopped:
            self._refreshCall = self.clock.callLater(
                max(MIN_REFRESH, NODE_BACKOFF[1] / 2), self._refreshNow)

    def _apply(self, table: SlotTable) -> None:
        """
        Use a new slot table; send what waited for it.
        """
        old = self.table
        slots = self.slots
        for r in table.ranges:
            node = self.node(r.primary)
            for replica in r.replicas:
                self.node(replica)
            slots[r.start:r.end + 1] = [node] * (r.end - r.start + 1)
        covered = [False] * SLOTS
        for r in table.ranges:
            covered[r.start:r.end + 1] = [True] * (r.end - r.start + 1)
        for slot in range(SLOTS):
            if not covered[slot]:
                slots[slot] = None
        self.table = table
        if old is None or old.ranges != table.ranges:
            self._log.info(
                "cluster slot table: {primaries} primaries, {replicas} "
                "replicas, {covered} of 16384 slots covered",
                primaries=len(table.primaryAddresses()),
                replicas=table.replicaCount(), covered=table.covered())
        waiters, self._tableWaiters = self._tableWaiters, []
        for d in waiters:
            d.callback(None)
        self._unparkSoon()
        self._probeUnreachable()

    def _probeUnreachable(self) -> None:
        """
        Connect again to primaries whose last connection failed, once
        their pause is over, so that their state is known (and their
        connection ready) before a request needs them.
        """
        now = self._seconds()
        unreachable = False
        for node in self.primaries():
            if not node.reachable:
                unreachable = True
                if node.downUntil <= now and node.pool[0] is None:
                    self._open(node, 0)
        self._unreachable = unreachable

    # -- state ---------------------------------------------------------------

    def primaries(self) -> List[Node]:
        """
        The nodes serving slots, in the order of the lowest slot each
        serves.
        """
        if self.table is None:
            return []
        return [self.node(a) for a in self.table.primaryAddresses()]

    def state(self) -> str:
        """
        C{ok} (every slot served, every primary reachable), C{degraded}
        (some slot not served or some primary not reachable) or C{down}
        (no table, or no primary reachable).
        """
        if self.table is None:
            return "down"
        primaries = self.primaries()
        reachable = [n for n in primaries if n.reachable]
        if not reachable:
            return "down"
        if len(reachable) < len(primaries) or self.table.covered() < SLOTS:
            return "degraded"
        return "ok"

    def randomPrimary(self) -> Optional[Node]:
        """
        A primary, at random (for a command with no key).
        """
        primaries = self.primaries()
        return self._rng.choice(primaries) if primaries else None
