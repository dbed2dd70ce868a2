# -*- test-case-name: kvtwist.test.test_protocol -*-
"""
The factory of client connections (L{KVFactory}): tracks connected and
dropped clients, enforces the client limit and protected mode, reaps idle
and stalled clients, and holds the server's configuration (L{Config}) and
counters (L{kvtwist.stats.Stats}).
"""

import ipaddress
import itertools
from typing import Dict, Optional

from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import ServerFactory
from twisted.logger import Logger

from kvtwist.commands import ClientState, Context
from kvtwist.dialects.resp import DEFAULT_MAX_BULK
from kvtwist.logs import RepeatLimiter
from kvtwist.protocol import EndOfTurn, KVProtocol
from kvtwist.replies import Error
from kvtwist.stats import Stats


class Config:
    """
    The server's settings (the C{twistd kvstore} options).

    @ivar password: the required password (L{bytes}) or L{None}.
    @ivar databases: how many databases (C{--databases}).
    @ivar backend: the C{--backend}: C{memory} or a cluster's seeds.
    @ivar pubsubOutputLimit: C{(hard, soft, seconds)}: a subscriber
        holding this many bytes of unread messages is dropped, at once
        past C{hard}, past C{soft} for C{seconds} (0: no limit;
        C{--pubsub-output-limit}).
    """

    def __init__(self, port: str = "3490", maxClients: int = 10000,
                 maxOutputBuffer: int = 1024 * 1024,
                 maxBulk: int = DEFAULT_MAX_BULK, timeout: float = 0,
                 protectedMode: bool = True,
                 password: Optional[bytes] = None, unterminatedMs: int = 0,
                 dataDir: str = ".", fsync: str = "interval",
                 flushInterval: float = 1.0,
                 stallTimeout: float = 60.0, databases: int = 16,
                 backend: str = "memory",
                 pubsubOutputLimit=(32 * 1024 ** 2, 8 * 1024 ** 2, 60)):
        self.port = port
        self.maxClients = maxClients
        self.maxOutputBuffer = maxOutputBuffer
        self.maxBulk = maxBulk
        self.timeout = timeout
        self.protectedMode = protectedMode
        self.password = password
        self.unterminatedMs = unterminatedMs
        self.dataDir = dataDir
        self.fsync = fsync
        self.flushInterval = flushInterval
        self.stallTimeout = stallTimeout
        self.databases = databases
        self.backend = backend
        self.pubsubOutputLimit = tuple(pubsubOutputLimit)

    #: The TCP port the server was given port 0 for, once bound.
    boundPort = 0

    def portNumber(self) -> int:
        """
        The TCP port of the main listener, or 0 if it is not a TCP port.
        """
        if self.boundPort:
            return self.boundPort
        text = self.port
        if not text.isdigit():
            parts = text.split(":")
            text = parts[1] if len(parts) > 1 and parts[0] in (
                "tcp", "ssl", "tcp6") else ""
        return int(text) if text.isdigit() else 0

    def view(self) -> Dict[str, object]:
        """
        The read-only view C{CONFIG GET} shows, with Redis's names where one
        exists.  The password is never shown.  A front end over a cluster
        (C{--backend redis-cluster://...}) keeps no data: it shows no
        persistence settings.
        """
        view = {
            "port": self.portNumber(),
            "bind": "*",
            "maxclients": self.maxClients,
            "timeout": self.timeout,
            "protected-mode": "yes" if self.protectedMode else "no",
            "requirepass": "",
            "proto-max-bulk-len": self.maxBulk,
            "client-output-buffer-limit": "normal %d %d 0 pubsub %d %d %d"
            % ((self.maxOutputBuffer, self.maxOutputBuffer) +
               self.pubsubOutputLimit),
            "dir": self.dataDir,
            "appendonly": "yes",
            "appendfsync": {"always": "always", "interval": "everysec",
                            "no": "no"}.get(self.fsync, self.fsync),
            "flush-interval": self.flushInterval,
            "save": "",
            "databases": self.databases,
            "unterminated-ms": self.unterminatedMs,
            "backend": self.backend,
        }
        if self.backend != "memory":
            for name in ("dir", "appendfsync", "flush-interval"):
                del view[name]
            # (Still answered: redis-benchmark asks for both.)
            view["appendonly"] = "no"
        return view


def _isLoopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


PROTECTED_MODE_REFUSAL = Error(
    "DENIED kvtwist is running in protected mode because no password is "
    "set, and connections from other hosts than the loopback address are "
    "refused. To let them in: 1) set a password with --requirepass or "
    "--password-file (recommended), or 2) restart with --no-protected-mode "
    "if the network is trusted, or 3) bind to the loopback interface only "
    "(--port tcp:PORT:interface=127.0.0.1) if no other host needs access.")


class KVFactory(ServerFactory):
    """
    Creates a L{KVProtocol} per connection and keeps track of them.

    @ivar store: the shared L{kvtwist.interfaces.IStore}.
    @ivar service: the L{kvtwist.persist.StoreService} or L{None}.
    @ivar config: the L{Config}.
    @ivar stats: the L{Stats}.
    @ivar runInThread: C{runInThread(f, *args) -> Deferred}, used to render
        large replies off the reactor thread; L{None} renders them inline.
    @ivar backend: the L{kvtwist.interfaces.IBackend} that runs every
        client's commands.
    @ivar endOfTurn: the L{EndOfTurn} that sends the replies held by the
        connections at the end of each reactor turn.
    """

    protocol = KVProtocol
    noisy = False
    _log = Logger()

    def __init__(self, store, service=None, config: Optional[Config] = None,
                 clock=None, runInThread=None, backend=None):
        """
        @param clock: an L{IReactorTime}; the global reactor if not given.
        @param runInThread: see the instance variable.
        @param backend: see the instance variable; by default a
            L{kvtwist.backends.memory.MemoryBackend} over C{store} and
            C{service}, doing O(store) work through C{runInThread}.
        """
        self.runInThread = runInThread
        if clock is None:
            from twisted.internet import reactor as clock
        self.store = store
        self.service = service
        if backend is None:
            from kvtwist.backends.memory import MemoryBackend
            backend = MemoryBackend(store, service, runInThread)
        self.backend = backend
        self.config = config or Config()
        self.clock = clock
        self.stats = Stats(self.now())
        self._connections: Dict[int, KVProtocol] = {}
        self._ids = itertools.count(1)
        self._reaper = None
        self._whenNoConnections = []
        self.endOfTurn = EndOfTurn(clock)
        #: Refusals logged a few per peer host, then counted: a host that
        #: keeps connecting while it is refused doesn't flood the log.
        self.refusals = RepeatLimiter(self._log, clock)

    @property
    def password(self) -> Optional[bytes]:
        """
        The required password, or L{None}.
        """
        return self.config.password

    def now(self) -> float:
        """
        The clock's time, in seconds.
        """
        return self.clock.seconds()

    def listeningOn(self, address) -> None:
        """
        A listener of this factory is bound to C{address}: if the port
        given was 0, the first TCP port bound is the server's (C{INFO}'s
        C{tcp_port}).
        """
        port = getattr(address, "port", None)
        config = self.config
        if port and not config.portNumber():
            config.boundPort = port

    def countActive(self) -> int:
        """
        How many clients are connected now.
        """
        return len(self._connections)

    def countDropped(self) -> int:
        """
        How many client connections have ended since the server started,
        whatever the cause.
        """
        return self.stats.dropped

    def clientStates(self):
        """
        The L{ClientState} of every connected client.
        """
        return [p.state for p in list(self._connections.values())]

    def connections(self):
        """
        The connected protocols.
        """
        return list(self._connections.values())

    def clientConnected(self, proto: KVProtocol):
        """
        Called by a protocol when its connection is made.

        @return: C{(state, ctx, refusal)}: the new client's state, its
            handler context, and an L{Error} to send before closing if it
            may not stay (L{None} if it may).
        """
        peer = proto.transport.getPeer()
        host = getattr(peer, "host", None)
        addr = ("%s:%s" % (host, peer.port)) if host is not None else \
            str(getattr(peer, "name", "") or "unix")
        now = self.now()
        config = self.config
        state = ClientState(next(self._ids), addr, now,
                            authenticated=config.password is None)
        ctx = Context(self.store, self, self.service, state)
        self.stats.connectionsReceived += 1
        refusal = None
        if len(self._connections) >= config.maxClients:
            refusal = Error("ERR max number of clients reached")
        elif (config.protectedMode and config.password is None
              and host is not None and not _isLoopback(host)):
            refusal = PROTECTED_MODE_REFUSAL
        if refusal is not None:
            self.stats.rejected += 1
            self.refusals.warn("refused connections from %s" % (
                host if host is not None else addr,),
                "refused client {addr}: {why}", addr=addr,
                why=refusal.split(".", 1)[0])
            return state, ctx, refusal
        self._connections[state.id] = proto
        self._log.info("client {id} connected from {addr}", id=state.id,
                       addr=addr)
        return state, ctx, None

    def clientDisconnected(self, proto: KVProtocol, reason):
        """
        Called by a protocol when its connection is lost: count it as
        dropped, and as closed by the server if the server closed it (the
        protocol then says why: C{disconnectReason}), and log why.
        """
        state = proto.state
        self.stats.dropped += 1
        if proto.disconnectReason is not None:
            self.stats.closedByServer += 1
        self._connections.pop(state.id, None)
        why = proto.disconnectReason
        if why is None:
            why = reason.getErrorMessage() if reason is not None else "closed"
        self._log.info("client {id} ({addr}) disconnected: {why}",
                       id=state.id, addr=state.addr, why=why)
        if not self._connections and self._whenNoConnections:
            waiting, self._whenNoConnections = self._whenNoConnections, []
            for d in waiting:
                d.callback(None)

    def disconnectAll(self, timeout: float = 5.0) -> Deferred:
        """
        Close every client gracefully (server shutdown): each stops having
        its requests run and is closed once the replies already owed to it
        are sent; clients still connected after C{timeout} seconds (not
        reading their replies) are aborted.

        @return: a L{Deferred} that fires once no client is connected.
        """
        if not self._connections:
            return succeed(None)
        done = Deferred()
        self._whenNoConnections.append(done)
        self._log.info("closing {count} client connections",
                       count=len(self._connections))
        for proto in list(self._connections.values()):
            proto.finish("server shutting down")

        def abortTheRest():
            for proto in list(self._connections.values()):
                self._log.warn(
                    "client {id} ({addr}) still connected {timeout}s into "
                    "the shutdown: aborting", id=proto.state.id,
                    addr=proto.state.addr, timeout=timeout)
                proto.abort("shutdown timed out")

        call = self.clock.callLater(timeout, abortTheRest)

        def cancel(result):
            if call.active():
                call.cancel()
            return result

        return done.addBoth(cancel)

    def clientStalled(self, proto: KVProtocol):
        """
        A client stopped reading its replies; its input is paused.
        """
        self._log.debug("client {id} stalled: input paused",
                        id=proto.state.id)

    def clientResumed(self, proto: KVProtocol):
        """
        A stalled client drained its replies.
        """

    def startFactory(self):
        """
        Start the reaper of idle and stalled clients.
        """
        from twisted.internet.task import LoopingCall
        if self._reaper is None:
            self._reaper = LoopingCall(self.reap)
            self._reaper.clock = self.clock
            self._reaper.start(1.0, now=False).addErrback(
                lambda f: self._log.failure("client reaper failed", f))

    def stopFactory(self):
        """
        Stop the reaper; log the counts of refusals not logged yet.
        """
        if self._reaper is not None and self._reaper.running:
            self._reaper.stop()
        self._reaper = None
        self.refusals.flush()

    def reap(self):
        """
        Disconnect clients stalled (not reading replies) past their bound
        and, with C{--timeout}, clients idle that long (as in Redis, a
        client blocked on a command or subscribed to a channel is never
        idle); take the sample of the C{instantaneous_*} rates (every
        second).
        """
        now = self.now()
        self.stats.sampleRates(now)
        timeout = self.config.timeout
        stallBound = timeout or self.config.stallTimeout
        for proto in list(self._connections.values()):
            stalled = proto.stalledSince
            if stalled is not None:
                if now - stalled >= stallBound:
                    self.stats.stalledDisconnects += 1
                    self._log.warn(
                        "client {id} ({addr}) stalled for {secs:.0f}s "
                        "without reading its replies: disconnecting",
                        id=proto.state.id, addr=proto.state.addr,
                        secs=now - stalled)
                    proto.abort("stalled past %gs" % (stallBound,))
            elif timeout and now - proto.state.lastActive >= timeout:
                state = proto.state
                if state.blocked or state.pubsub:
                    continue
                proto.abort("idle for %gs (--timeout)" % (timeout,))
