# -*- test-case-name: kvtwist.test.test_backends -*-
"""
The memory backend: the command table over the in-process store, journaled
by the store service.

This is the default, embedded backend, and its L{MemoryBackend.execute} is
the hot path of every request: it is written inline (no helper calls for
counting, authentication or arity) because each call shows in pipelined
throughput.

Blocked clients cost that path nothing while there are none: a client
that blocks (L{kvtwist.backends.blocking}) installs, as this instance's
C{execute}, a version that serves the keys a command made ready once the
command has run; the last one to stop waiting takes it away.
"""

from time import perf_counter_ns
from typing import List

from twisted.internet.defer import Deferred
from zope.interface import implementer

from kvtwist import replies
from kvtwist.backends.atomic import AtomicRun, execAbort
from kvtwist.backends.blocking import Waiting
from kvtwist.backends.pubsub import Hub
from kvtwist.commands import TABLE, Context, Offload, errorReply
from kvtwist.commands.atomic import Atomic
from kvtwist.commands.blocking import Block
from kvtwist.commands.connection import REDIS_COMPAT_VERSION
from kvtwist.commands.transactions import NOT_QUEUED, discard, queue, refused
from kvtwist.interfaces import IBackend
from kvtwist.persist.journal import SHUT_DOWN
from kvtwist.replies import PLAIN, Error
from kvtwist.scripting import luaModule
from kvtwist.scripting.engine import Scripts
from kvtwist.stats import IBackendStats, memoryFigures


def misconf(failure: str) -> Error:
    """
    The error a write gets while persistence fails (Redis's C{MISCONF}),
    or, once the store service has stopped
    (L{kvtwist.persist.journal.SHUT_DOWN}), a plain error saying so:
    C{MISCONF} means a failing disk and nothing else.

    @param failure: the persistence failure, in a few words.
    """
    if failure == SHUT_DOWN:
        return Error("ERR the server is shutting down")
    return Error("MISCONF Errors writing to the append-only log: %s. "
                 "Writes are refused until the data directory is "
                 "writable again; reads go on." % (failure,))


#: The command table's lookup, bound once.  Python 3.11 compiles a call of a
#: method of a from-imported name (C{TABLE.get(name)}) as an attribute load
#: it cannot specialise unless the name is a module: on a dict that makes a
#: bound method at every call, which showed in the per-request profile.
_command = TABLE.get


@implementer(IBackend, IBackendStats)
class MemoryBackend:
    """
    Runs commands on the in-process store.

    Writes are refused with C{MISCONF} while the service's persistence
    fails; with C{--fsync always} a write's reply waits until the service
    says its record is durable.

    @ivar store: the L{kvtwist.interfaces.IStore} the handlers change.
    @ivar service: the store service that journals the store's changes
        (L{kvtwist.persist.StoreService}: its C{failure}, C{whenDurable()}
        and C{sealBatch()}), or L{None} for a store kept only in memory.
    @ivar scripts: its Lua scripts (L{kvtwist.scripting.engine.Scripts}),
        made by the first script (L{scriptEngine}), or L{None}.
    @ivar scriptTimeLimit: the most seconds a script may run
        (C{lua-time-limit}).
    @ivar runInThread: C{runInThread(f) -> Deferred}, or L{None}: with
        one, the O(store) work of C{KEYS} and C{PRINT} on a store of more
        than L{OFFLOAD_KEYS} keys is done through it, off the reactor
        thread (on a snapshot taken when the command ran), and their reply
        is a Deferred.
    @ivar clock: the L{IReactorTime} of blocking commands' timeouts, or
        L{None}: the calling server's (C{ctx.factory.clock}), else the
        reactor.
    @ivar waiting: the blocked clients (L{Waiting}), made when the first
        one blocks; L{None} before.
    @ivar hub: the pub/sub L{Hub}.
    """

    #: Store size from which O(store) work goes to C{runInThread}.
    OFFLOAD_KEYS = 20000

    def __init__(self, store, service=None, runInThread=None, clock=None,
                 scriptTimeLimit: float = 5.0):
        self.store = store
        self.service = service
        self.runInThread = runInThread
        self.clock = clock
        self.scriptTimeLimit = scriptTimeLimit
        self.scripts = None
        self.waiting = None
        self.hub = Hub()
        sealBatch = getattr(service, "sealBatch", None)
        if sealBatch is not None:
            # The end of every read: the service's own sealBatch, without
            # a call through L{endTurn}.
            self.endTurn = sealBatch

    def execute(self, ctx: Context, name: bytes, args: List[bytes]):
        """
        Run one command (see L{IBackend.execute}): unknown commands, wrong
        arity, missing authentication and failing persistence give Redis's
        error replies; store exceptions become C{WRONGTYPE} and friends.
        """
        cmd = _command(name)
        if cmd is None:
            cmd = _command(name.upper())
            if cmd is None:
                return _unknown(ctx, name, args)
        client = ctx.client
        client.commands += 1
        cname = cmd.name
        factory = ctx.factory
        if factory is not None:
            # Counted here, inline: this runs for every command.
            stats = factory.stats
            n = stats.commandsProcessed = stats.commandsProcessed + 1
            per = stats.perCommand
            per[cname] = per.get(cname, 0) + 1
            if n >= stats.nextSample:
                return self._executeTimed(ctx, cmd, args, stats)
        else:
            stats = None
        # The common case first: an authenticated client outside a
        # transaction, the right number of arguments.
        if not client.authenticated and not cmd.noauth:
            return _rejected(stats, cmd, replies.NOAUTH)
        arity = cmd.arity
        n = len(args) + 1
        if (n != arity) if arity > 0 else (n < -arity):
            return _rejected(stats, cmd,
                             refused(ctx, replies.wrongArity(cname)))
        if client.transaction is not None and cname not in NOT_QUEUED:
            reply = queue(ctx, cmd, args, self.writeRefusal())
            if reply.__class__ is Error:
                _rejected(stats, cmd, reply)
            return reply
        if cmd.write:
            service = self.service
            if service is not None:
                if service.failure is not None:
                    return _rejected(stats, cmd, misconf(service.failure))
                try:
                    handler = cmd.handler
                    reply = handler(ctx, args)
                except Exception as e:
                    return _failed(stats, cmd, e)
                if reply.__class__ not in _UNCOUNTED:
                    reply = self._unusual(ctx, cmd, reply, stats)
                    if reply.__class__ is _Done:
                        return reply.reply
                durable = service.whenDurable()
                if durable is not None:
                    return durable.addCallbacks(
                        lambda _: reply, lambda f: _notDurable(service, f))
                return reply
        try:
            # (Read from its slot first: a slot holding a function is not
            # a method, and calling it as one is never specialised.)
            handler = cmd.handler
            reply = handler(ctx, args)
        except Exception as e:
            return _failed(stats, cmd, e)
        if reply.__class__ not in _UNCOUNTED:
            reply = self._unusual(ctx, cmd, reply, stats)
            if reply.__class__ is _Done:
                return reply.reply
        return reply

    def _executeTimed(self, ctx: Context, cmd, args: List[bytes], stats):
        """
        L{execute} for the commands it times (see L{_timed}), once
        counted: the same checks, off the hot path.
        """
        client = ctx.client
        if not client.authenticated and not cmd.noauth:
            return _rejected(stats, cmd, replies.NOAUTH)
        arity = cmd.arity
        n = len(args) + 1
        if (n != arity) if arity > 0 else (n < -arity):
            return _rejected(stats, cmd,
                             refused(ctx, replies.wrongArity(cmd.name)))
        if client.transaction is not None and cmd.name not in NOT_QUEUED:
            reply = queue(ctx, cmd, args, self.writeRefusal())
            if reply.__class__ is Error:
                _rejected(stats, cmd, reply)
            return reply
        service = self.service
        if cmd.write and service is not None and service.failure is not None:
            return _rejected(stats, cmd, misconf(service.failure))
        try:
            reply = _timed(stats, cmd, ctx, args)
        except Exception as e:
            return _failed(stats, cmd, e)
        if reply.__class__ not in _UNCOUNTED:
            reply = self._unusual(ctx, cmd, reply, stats)
            if reply.__class__ is _Done:
                return reply.reply
        if cmd.write and service is not None:
            durable = service.whenDurable()
            if durable is not None:
                return durable.addCallbacks(
                    lambda _: reply, lambda f: _notDurable(service, f))
        return reply

    def _unusual(self, ctx: Context, cmd, reply, stats):
        """
        What L{execute} does with a reply that is an error or not plain
        (off its hot path): count an error; do the work of an L{Offload},
        run an L{Atomic}, block for a L{Block}; turn a Deferred's failure
        into an error reply.

        @return: the reply, to be made durable as any (with C{--fsync
            always}), or a L{_Done} holding the final reply.
        """
        if reply.__class__ is Offload:
            reply = self._offload(cmd, reply)
        elif reply.__class__ is Atomic:
            reply = self._atomic(ctx, cmd, reply)
            if isinstance(reply, Deferred):
                if stats is not None:
                    reply.addCallback(_countFailure, stats, cmd)
            elif reply.__class__ is Error and stats is not None:
                stats.commandFailed(cmd.name, reply)
            return _Done(reply)
        elif reply.__class__ is Block:
            return _Done(self._block(ctx, reply))
        if isinstance(reply, Deferred):
            reply.addErrback(lambda f: errorReply(cmd, f.value))
            if stats is not None:
                reply.addCallback(_countFailure, stats, cmd)
        elif reply.__class__ is Error and stats is not None:
            stats.commandFailed(cmd.name, reply)
        return reply

    def _offload(self, cmd, offload: Offload):
        """
        Do a handler's O(store) work: here, or through C{runInThread} when
        the store is big (the reply is then a Deferred).
        """
        runInThread = self.runInThread
        if runInThread is not None and offload.size > self.OFFLOAD_KEYS:
            return runInThread(offload.work).addErrback(
                lambda f: errorReply(cmd, f.value))
        try:
            return offload.work()
        except Exception as e:
            return errorReply(cmd, e)

    # -- transactions and scripts -----------------------------------------

    def scriptEngine(self):
        """
        Its L{Scripts}, made on first use (the Lua runtime costs a few
        milliseconds and some memory), or L{None} where C{lupa} is not
        installed.
        """
        scripts = self.scripts
        if scripts is None:
            lua = luaModule()
            if lua is not None:
                scripts = self.scripts = Scripts(
                    lua, self.scriptTimeLimit, version=REDIS_COMPAT_VERSION)
        return scripts

    def writeRefusal(self):
        """
        The C{MISCONF} error writes get while persistence fails, or
        L{None}.
        """
        service = self.service
        if service is not None and service.failure is not None:
            return misconf(service.failure)
        return None

    def _atomic(self, ctx: Context, cmd, atomic: Atomic):
        """
        Run an L{Atomic} (an C{EXEC}, a script) as one: its writes are
        journaled as one group, and with C{--fsync always} its reply
        waits once, until they are durable.
        """
        service = self.service
        if atomic.writes:
            failure = self.writeRefusal()
            if failure is not None:
                return execAbort(failure)
        mark = service.journalSeq() if service is not None else 0
        run = AtomicRun(self, ctx)
        client = ctx.client
        subscribed = bool(client.pubsub)
        client.atomic = run
        try:
            reply = atomic.work(run)
        except Exception as e:
            reply = errorReply(cmd, e)
        finally:
            client.atomic = None
            if bool(client.pubsub) is not subscribed:
                # A SUBSCRIBE (or the last UNSUBSCRIBE) inside EXEC: its
                # connection looks again once the reply is queued (RESP2's
                # subscribed mode begins or ends there, as in Redis).
                client.afterReply = True
            durable = None
            if service is not None and service.journalSeq() != mark:
                service.groupSince(mark)
                durable = service.whenDurable()
        run.runLater()
        if isinstance(reply, Deferred):
            reply.addErrback(lambda f: errorReply(cmd, f.value))
        if durable is not None:
            return durable.addCallbacks(
                lambda _: reply, lambda f: _notDurable(service, f))
        return reply

    # -- blocked clients ---------------------------------------------------

    def _block(self, ctx: Context, block: Block) -> Deferred:
        """
        Make the client of C{ctx} wait (see L{Waiting}).
        """
        waiting = self.waiting
        if waiting is None:
            clock = self.clock
            if clock is None:
                clock = ctx.factory.clock if ctx.factory is not None \
                    else None
            if clock is None:
                from twisted.internet import reactor as clock
            waiting = self.waiting = Waiting(
                clock, self._served, self._startServing, self._stopServing)
        return waiting.block(ctx.client, ctx.store, block)

    def _served(self, reply):
        """
        The reply of a blocked client that was served: with C{--fsync
        always}, a Deferred that fires once its pop is durable.
        """
        service = self.service
        if service is not None:
            durable = service.whenDurable()
            if durable is not None:
                return durable.addCallbacks(
                    lambda _: reply, lambda f: _notDurable(service, f))
        return reply

    def _startServing(self) -> None:
        """
        A client blocked: from now on, serve what each command makes ready.
        """
        self.execute = self._executeThenServe

    def _stopServing(self) -> None:
        """
        No client is blocked any more: back to the plain L{execute}.
        """
        self.__dict__.pop("execute", None)

    def _executeThenServe(self, ctx: Context, name: bytes,
                          args: List[bytes]):
        """
        L{execute} while clients are blocked: run the command, then serve
        the keys it made ready (after the whole of an C{EXEC} or script).
        """
        reply = MemoryBackend.execute(self, ctx, name, args)
        waiting = self.waiting
        if waiting.ready:
            waiting.serveReady()
        return reply

    def unblockClient(self, clientId: int, error: bool = False) -> bool:
        """
        C{CLIENT UNBLOCK}: the blocked client numbered C{clientId} stops
        waiting, answered as if its timeout passed, or with Redis's
        C{UNBLOCKED} error.

        @return: whether it was blocked.
        """
        waiting = self.waiting
        return waiting is not None and waiting.unblock(clientId, error)

    def clientDisconnected(self, ctx: Context) -> None:
        """
        The client of C{ctx} is gone: forget its transaction and its
        watched keys; it stops waiting, and subscribes to nothing.
        """
        discard(ctx.client)
        if self.waiting is not None:
            self.waiting.forget(ctx.client)
        self.hub.forget(ctx.client)

    def endTurn(self):
        """
        Seal the journal's batch: the service encodes the ops pending so
        far as a log record if there are enough of them.
        """
        service = self.service
        if service is not None:
            service.sealBatch()

    def backendFigures(self):
        """
        The store's keyspace and the service's persistence, for the stats
        snapshot (L{kvtwist.stats.IBackendStats}).
        """
        return memoryFigures(self.store, self.service, self.hub)


#: The reply classes that need no look after a command ran: the plain
#: ones but errors (counted as failed calls).
_UNCOUNTED = PLAIN - {Error}


def _timed(stats, cmd, ctx, args):
    """
    Run C{cmd} and time it, for C{INFO commandstats} (every command
    while they are few, one in about 64 under load: see
    L{kvtwist.stats.Stats.nextSampleAfter}).
    """
    start = perf_counter_ns()
    try:
        # (From its slot first: see MemoryBackend.execute.)
        handler = cmd.handler
        return handler(ctx, args)
    finally:
        end = perf_counter_ns()
        name = cmd.name
        calls = stats.sampledCalls
        calls[name] = calls.get(name, 0) + 1
        spent = stats.sampledNanoseconds
        spent[name] = spent.get(name, 0) + end - start
        stats.nextSampleAfter(stats.commandsProcessed, end)


class _Done:
    """
    The final reply of a command, which L{MemoryBackend.execute} returns
    as it is (an L{Atomic}'s or a L{Block}'s: they wait for durability
    themselves).
    """

    __slots__ = ("reply",)

    def __init__(self, reply):
        self.reply = reply


def _unknown(ctx: Context, name: bytes, args: List[bytes]) -> Error:
    """
    The reply to a command not in the table, counted.
    """
    factory = ctx.factory
    if not ctx.client.authenticated:
        reply = replies.NOAUTH
    else:
        reply = refused(ctx, replies.unknownCommand(name, args))
    if factory is not None:
        factory.stats.unknown += 1
        factory.stats.countError(reply)
    return reply


def _failed(stats, cmd, e: Exception):
    """
    The reply of C{cmd}, whose handler raised C{e}, counted if an error.
    """
    reply = errorReply(cmd, e)
    if stats is not None and reply.__class__ is Error:
        stats.commandFailed(cmd.name, reply)
    return reply


def _rejected(stats, cmd, error: Error) -> Error:
    """
    Count C{error}, the refusal of C{cmd} before it ran, and return it.
    """
    if stats is not None:
        stats.commandRejected(cmd.name, error)
    return error


def _countFailure(reply, stats, cmd):
    """
    Count the later reply of C{cmd} if it is an error; pass it on.
    """
    if reply.__class__ is Error:
        stats.commandFailed(cmd.name, reply)
    return reply


def _notDurable(service, failure) -> Error:
    """
    The reply of a write whose record could not be made durable: the
    service's persistence failure as C{MISCONF}.
    """
    return misconf(service.failure or failure.getErrorMessage())
