# -*- test-case-name: kvtwist.test.test_cluster_backend -*-
"""
The redis-cluster backend: kvtwist as a stateless front end over Redis
Cluster.  Each command goes where its keys are (L{Router}); what concerns
the front end itself runs here; what concerns every key runs on every
primary (L{FanOut}).

How a command is run, by kind:

    - about this connection or this front end (PING, ECHO, HELLO, AUTH,
      QUIT, CLIENT, CONFIG, COMMAND, TIME, HELP, SELECT 0): here, by
      kvtwist's own handlers; INFO: this front end's figures, the
      keyspace summed over the primaries and a C{# Backend} section;
    - MGET, EXISTS, DEL, UNLINK, TOUCH, MSET: split by slot, the replies
      merged (MSET is not atomic across slots);
    - KEYS, DBSIZE, FLUSHDB, FLUSHALL, RANDOMKEY, LASTSAVE, SCAN, PRINT
      and commands Redis tips as run everywhere: on every primary;
    - any other command with keys, kvtwist's or only the nodes' (their
      C{COMMAND} reply says where its keys are): to the node of their
      slot, or C{CROSSSLOT} if they are in several;
    - kvtwist's LREPLACE (the colon protocol's C{Update}): a small Lua
      script on the key's node;
    - blocking commands, MULTI/EXEC/WATCH: L{kvtwist.backends.cluster.session};
    - SAVE, BGSAVE, WAIT, administration commands: refused, saying why.
"""

import random
from binascii import crc_hqx as _crc
from typing import Callable, Dict, List, Optional

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from zope.interface import implementer

from kvtwist import replies
from kvtwist.backends.cluster.fanout import FanOut, firstError, gather
from kvtwist.backends.cluster.shapes import SHAPERS, hasDoubles, shape
from kvtwist.backends.cluster.slots import SLOTS, keySlot
from kvtwist.backends.cluster.specs import CommandSpec, parseCommandReply
from kvtwist.commands import TABLE, Context, errorReply
from kvtwist.interfaces import IBackend
from kvtwist.replies import OK, Error, Later
from kvtwist.stats import BackendFigures, IBackendStats

CROSSSLOT = Error("CROSSSLOT Keys in request don't hash to the same slot")

#: Commands about the connection or this front end, run here by kvtwist's
#: handlers.
LOCAL = frozenset([b"PING", b"ECHO", b"HELLO", b"AUTH", b"QUIT", b"EXIT",
                   b"CLIENT", b"CONFIG", b"COMMAND", b"TIME", b"HELP"])

#: Commands refused whatever the nodes say, and why.
REFUSED = {
    b"SAVE": "this front end keeps no data: the cluster's nodes persist it "
             "(run SAVE on them)",
    b"BGSAVE": "this front end keeps no data: the cluster's nodes persist "
               "it (run BGSAVE on them)",
    b"BGREWRITEAOF": "this front end keeps no data: the cluster's nodes "
                     "persist it",
    b"WAIT": "the front end's connections to the nodes carry many clients' "
             "writes; start it with --backend-wait N to have every write "
             "confirmed by N replicas",
    b"WAITAOF": "the front end's connections to the nodes carry many "
                "clients' writes",
    b"SWAPDB": "a cluster has one database",
    b"MOVE": "a cluster has one database",
    b"SHUTDOWN": "it would stop a node, not this front end (stop the front "
                 "end with a signal)",
    b"MONITOR": "it would watch one node, not the cluster",
    b"SYNC": "it is a replication command",
    b"PSYNC": "it is a replication command",
    b"READONLY": "the front end reads from primaries",
    b"READWRITE": "the front end reads from primaries",
}
_PUBSUB = ("pub/sub subscriptions are not available through the front end "
           "yet (PUBLISH is)")
for _name in (b"SUBSCRIBE", b"PSUBSCRIBE", b"SSUBSCRIBE", b"UNSUBSCRIBE",
              b"PUNSUBSCRIBE", b"SUNSUBSCRIBE"):
    REFUSED[_name] = _PUBSUB

#: Multi-key commands split by slot: name -> (key step, merge).
SPLIT = {
    b"MGET": 1,
    b"EXISTS": 1,
    b"DEL": 1,
    b"UNLINK": 1,
    b"TOUCH": 1,
    b"MSET": 2,
}

#: The Lua script that runs LREPLACE on a key's node: replace every
#: element equal to ARGV[1] by ARGV[2]; how many.
LREPLACE_SCRIPT = b"""\
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then return 0 end
if kind ~= 'list' then
  return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of value')
end
local items = redis.call('LRANGE', KEYS[1], 0, -1)
local n = 0
for i, item in ipairs(items) do
  if item == ARGV[1] then
    redis.call('LSET', KEYS[1], i - 1, ARGV[2])
    n = n + 1
  end
end
return n
"""


#: Commands this backend runs itself, known even before kvtwist's table
#: or the nodes describe them: C{(arity, flags, (first, last, step))}.
BUILTIN = {
    b"MULTI": (1, "fast", (0, 0, 0)),
    b"EXEC": (1, "", (0, 0, 0)),
    b"DISCARD": (1, "fast", (0, 0, 0)),
    b"WATCH": (-2, "fast", (1, -1, 1)),
    b"UNWATCH": (1, "fast", (0, 0, 0)),
    b"RANDOMKEY": (1, "readonly", (0, 0, 0)),
    b"TOUCH": (-2, "readonly fast", (1, -1, 1)),
    b"UNLINK": (-2, "write fast", (1, -1, 1)),
    b"LASTSAVE": (1, "fast", (0, 0, 0)),
}


class Entry:
    """
    How one command name is run: C{handler(ctx, name, args, entry)}.

    @ivar command: kvtwist's L{kvtwist.commands.Command}, or L{None} for
        a command only the nodes know.
    @ivar spec: the L{CommandSpec} routing uses.
    @ivar noauth: whether it may run before authentication.
    @ivar label: the name it is counted under.
    @ivar single: whether its one key is its first argument (and its reply
        needs no shaping): L{ClusterBackend.execute} sends it to its slot
        itself, the reply a L{Later}.
    """

    __slots__ = ("handler", "command", "spec", "noauth", "label", "write",
                 "arity", "single")

    def __init__(self, handler: Callable, command, spec: CommandSpec,
                 single: bool = False):
        self.handler = handler
        self.single = single
        self.command = command
        self.spec = spec
        self.arity = spec.arity
        self.noauth = command is not None and command.noauth
        self.label = command.name if command is not None else \
            spec.name.upper()
        self.write = spec.write


@implementer(IBackend, IBackendStats)
class ClusterBackend:
    """
    Runs commands on a Redis Cluster (see the module's docstring).

    @ivar router: the L{kvtwist.backends.cluster.router.Router}.
    @ivar fanout: the L{FanOut} over the same router.
    @ivar nodeSpecs: the nodes' commands (their C{COMMAND} reply), by
        upper-case name; empty until a node gave them.
    @ivar session: the L{kvtwist.backends.cluster.session.Sessions} of
        clients in a transaction, a watch or a blocking command.
    @ivar kind: what INFO calls it.
    @ivar url: the C{--backend} it was made from.
    @ivar keyspace: the primaries' keyspace when last asked
        (L{kvtwist.stats.KeyspaceFigures}), or L{None}.
    """

    _log = Logger()
    kind = "redis-cluster"

    def __init__(self, router, url: str = "",
                 rng: Optional[random.Random] = None):
        from kvtwist.backends.cluster.session import Sessions
        self.router = router
        self.url = url
        self._rng = rng or random.Random()
        self.fanout = FanOut(router, self._rng)
        self.nodeSpecs: Dict[bytes, CommandSpec] = {}
        self._entries: Dict[bytes, Entry] = {}
        self._specsWaiters: List[Deferred] = []
        self._specsLoading = False
        self.session = Sessions(self)
        self._active = self.session.active
        self.keyspace = None
        self._keyspaceAnswered = None
        self._special: Dict[bytes, Callable] = {
            b"INFO": self._info,
            b"KEYS": lambda ctx, name, args, e: self.fanout.keys(
                [name] + args),
            b"DBSIZE": lambda ctx, name, args, e: self.fanout.dbsize(
                [name] + args),
            b"FLUSHDB": self._flush,
            b"FLUSHALL": self._flush,
            b"FLUSH": self._flush,
            b"RANDOMKEY": lambda ctx, name, args, e: self.fanout.randomkey(
                [name] + args),
            b"LASTSAVE": lambda ctx, name, args, e: self.fanout.lastsave(
                [name] + args),
            b"SCAN": lambda ctx, name, args, e: self.fanout.scan(
                [name] + args),
            b"PRINT": lambda ctx, name, args, e: self.fanout.print_(
                self.sendByKey),
            b"LREPLACE": self._lreplace,
            b"SELECT": self._select,
        }
        for name in SPLIT:
            self._special[name] = self._split

    # -- IBackend -------------------------------------------------------------

    def execute(self, ctx: Context, name: bytes, args: List[bytes]):
        """
        Run one command (see L{IBackend.execute} and the module's
        docstring).
        """
        entry = self._entries.get(name)
        if entry is None:
            entry = self._entry(name)
        client = ctx.client
        active = self._active
        if entry is None:
            if active and client.id in active:
                return self.session.execute(ctx, name, args, None)
            return self._unknown(ctx, name, args)
        client.commands += 1
        factory = ctx.factory
        if factory is not None:
            stats = factory.stats
            stats.commandsProcessed += 1
            per = stats.perCommand
            label = entry.label
            per[label] = per.get(label, 0) + 1
        if not client.authenticated and not entry.noauth:
            return replies.NOAUTH
        if active and client.id in active:
            return self.session.execute(ctx, name, args, entry)
        # The arity, inline (this runs for every command).
        arity = entry.arity
        n = len(args) + 1
        if (n != arity) if arity > 0 else (n < -arity):
            return replies.wrongArity(entry.label)
        if entry.single:
            # The most common command, a key's (GET, SET...), inline: to
            # its slot, its reply a Later, not a Deferred.
            key = args[0]
            if b"{" in key:
                slot = keySlot(key)
            else:
                slot = _crc(key, 0) & 16383
            return self.router.sendLater([name] + args, slot, entry.write)
        # (From its slot first: see MemoryBackend.execute.)
        handler = entry.handler
        return handler(ctx, name, args, entry)

    def endTurn(self) -> None:
        """
        Nothing: the node connections write their requests at the end of
        the reactor turn by themselves.
        """

    def clientDisconnected(self, ctx: Context) -> None:
        """
        A client left: what it held (a blocked command, a watch) is let
        go.
        """
        self.session.clientGone(ctx.client)

    # -- the command table ------------------------------------------------------

    def _entry(self, name: bytes) -> Optional[Entry]:
        upper = name.upper()
        command = TABLE.get(upper)
        spec = self.nodeSpecs.get(upper)
        if spec is None:
            if command is not None:
                spec = CommandSpec.fromTable(command)
            elif upper in BUILTIN:
                arity, flags, keys = BUILTIN[upper]
                spec = CommandSpec(upper.decode().lower(), arity,
                                   flags.split(), keys)
            elif upper in REFUSED:
                spec = CommandSpec(upper.decode().lower(), -1)
            else:
                return None
        elif command is not None and upper in LOCAL:
            spec = CommandSpec.fromTable(command)
        if upper in LOCAL and command is not None:
            handler = self._local
        elif upper in REFUSED:
            handler = self._refuse
        elif upper in self._special:
            handler = self._special[upper]
            if command is not None:
                # kvtwist's arity (its own commands, FLUSH, PRINT).
                spec = CommandSpec(spec.name, command.arity,
                                   spec.flags, spec.legacy, spec.keySpecs,
                                   spec.movable, spec.tips)
        elif upper in (b"MULTI", b"EXEC", b"DISCARD", b"WATCH",
                       b"UNWATCH"):
            handler = self.session.transactionCommand
        elif "admin" in spec.flags:
            handler = self._refuse
        elif spec.blocking or upper in (b"XREAD", b"XREADGROUP"):
            handler = self.session.blocking
        elif _isSingleKey(spec):
            handler = self._single
        else:
            handler = self._routed
        label = upper.decode("ascii", "replace")
        single = handler == self._single
        if label in SHAPERS or hasDoubles(label):
            handler = _shaped(handler, label, self.router)
            single = False
        entry = Entry(handler, command, spec, single)
        if len(self._entries) < 4096:
            self._entries[name] = entry
        return entry

    def _unknown(self, ctx: Context, name: bytes, args: List[bytes]):
        """
        A command neither kvtwist nor (so far) the nodes know: Redis's
        error; or, until the nodes told their commands, wait for them.
        """
        if not self.nodeSpecs and self.router.table is None or \
                self._specsLoading:
            return self._afterSpecs().addCallback(
                lambda _: self._known(ctx, name, args))
        return self._known(ctx, name, args)

    def _known(self, ctx: Context, name: bytes, args: List[bytes]):
        if self._entry(name) is not None:
            reply = self.execute(ctx, name, args)
            if isinstance(reply, Later):
                # (Called back by a Deferred, or for a session.)
                return reply.asDeferred()
            return reply
        factory = ctx.factory
        if factory is not None:
            factory.stats.unknown += 1
        if not ctx.client.authenticated:
            return replies.NOAUTH
        return replies.unknownCommand(name, args)

    def loadSpecs(self) -> Deferred:
        """
        Ask a primary for its commands (C{COMMAND}); until they come,
        kvtwist's table says where keys are.
        """
        if self._specsLoading:
            return self._afterSpecs()
        self._specsLoading = True
        node = self.router.randomPrimary()
        if node is None:
            self._specsLoading = False
            return self._specsDone()

        def got(reply):
            self._specsLoading = False
            if reply.__class__ is Error or not isinstance(reply, list):
                self._log.warn("cannot learn the cluster's commands from "
                               "{node}: {reply}", node=str(node),
                               reply=str(reply)[:200])
            else:
                self.nodeSpecs = parseCommandReply(reply)
                self._entries.clear()
            return self._specsDone()
        return self.router.sendToNode(node.address, [b"COMMAND"]).addCallback(
            got)

    def _afterSpecs(self) -> Deferred:
        d = Deferred()
        self._specsWaiters.append(d)
        self.router.clock.callLater(self.router.timeout, self._specsDone)
        return d

    def _specsDone(self, _=None):
        waiters, self._specsWaiters = self._specsWaiters, []
        for d in waiters:
            if not d.called:
                d.callback(None)

    # -- kinds of command ---------------------------------------------------------

    def _local(self, ctx, name, args, entry):
        """
        Run kvtwist's own handler: the command is about this front end.
        """
        command = entry.command
        try:
            return command.handler(ctx, args)
        except Exception as e:
            return errorReply(command, e)

    def _refuse(self, ctx, name, args, entry):
        why = REFUSED.get(name.upper(), "it is an administration command "
                          "of the nodes: run it on them directly")
        return Error("ERR %s is not available through the redis-cluster "
                     "backend: %s" % (entry.label, why))

    def _single(self, ctx, name, args, entry):
        """
        A command whose one key is its first argument: to its slot.
        """
        key = args[0]
        start = key.find(b"{")
        if start >= 0:
            slot = keySlot(key)
        else:
            slot = _crc(key, 0) & 16383
        return self.router.send([name] + args, slot, entry.write)

    def _routed(self, ctx, name, args, entry):
        """
        Any other command: to the slot of its keys, C{CROSSSLOT} if they
        are in several; a command with no key by Redis's tips, or to any
        primary if it needs none, else refused.
        """
        argv = [name] + args
        spec = entry.spec.subcommand(argv)
        keys = spec.keys(argv)
        if keys is None:
            # Keys this can't tell (or arguments the node will refuse):
            # any node answers, a MOVED leads to the right one.
            return self.router.send(argv, self._rng.randrange(SLOTS),
                                    spec.write)
        if not keys:
            request, response = spec.policy()
            if request in ("all_shards", "all_nodes"):
                return self.fanout.byPolicy(argv, request, response,
                                            spec.write)
            if "no_mandatory_keys" in spec.flags or \
                    "movablekeys" in spec.flags or \
                    "pubsub" in spec.flags or not spec.write and \
                    request == "":
                # (A command whose keys move, given none: LMPOP 0 ...;
                # any node answers its error.)
                return self.router.send(argv, self._rng.randrange(SLOTS),
                                        spec.write)
            return Error("ERR %s has no key to route it by: it is not "
                         "available through the redis-cluster backend"
                         % (entry.label,))
        slot = keySlot(keys[0])
        for key in keys[1:]:
            if keySlot(key) != slot:
                return CROSSSLOT
        return self.router.send(argv, slot, spec.write)

    def sendByKey(self, argv: List[bytes]) -> Deferred:
        """
        Send C{argv} (whose key is C{argv[1]}) to its slot.
        """
        spec = self.nodeSpecs.get(argv[0].upper())
        write = spec.write if spec is not None else False
        return self.router.send(argv, keySlot(argv[1]), write)

    def _split(self, ctx, name, args, entry):
        """
        MGET, EXISTS, DEL, UNLINK, TOUCH, MSET over several slots: one
        request per slot, the replies merged (in the keys' order for
        MGET, summed for the counts, OK once every MSET part is).
        """
        upper = name.upper()
        step = SPLIT[upper]
        if step == 2 and len(args) % 2:
            return replies.wrongArity(entry.label)
        groups: Dict[int, List[int]] = {}
        for i in range(0, len(args), step):
            groups.setdefault(keySlot(args[i]), []).append(i)
        write = entry.write
        if len(groups) == 1:
            slot, = groups
            return self.router.send([name] + args, slot, write)
        order = list(groups.items())
        parts = [self.router.send(
            [name] + [a for i in positions for a in args[i:i + step]],
            slot, write) for slot, positions in order]

        def merged(results):
            error = firstError(results)
            if error is not None:
                return error
            if upper == b"MGET":
                out = [None] * len(args)
                for (slot, positions), values in zip(order, results):
                    for i, value in zip(positions, values):
                        out[i] = value
                return out
            if upper == b"MSET":
                return OK
            return sum(results)
        return gather(parts).addCallback(merged)

    def _flush(self, ctx, name, args, entry):
        return self.fanout.flush([name] + args)

    def _select(self, ctx, name, args, entry):
        """
        SELECT: a cluster has one database, 0.
        """
        from kvtwist.commands.databases import OUT_OF_RANGE, intArg32
        index = intArg32(args[0])
        if index is None:
            return replies.NOT_INTEGER
        return OK if index == 0 else OUT_OF_RANGE

    def _lreplace(self, ctx, name, args, entry):
        """
        kvtwist's LREPLACE key old new, as a Lua script on the key's node.
        """
        return self.router.send(
            [b"EVAL", LREPLACE_SCRIPT, b"1"] + args, keySlot(args[0]), True)

    def _info(self, ctx, name, args, entry):
        """
        INFO: the stats snapshot, its keyspace asked of the primaries now
        (unless the cluster is down).
        """
        from kvtwist.commands.server import formatInfo, renderInfo
        from kvtwist.stats import takeSnapshot

        def render(_=None):
            snap = takeSnapshot(ctx.factory, self.backendFigures())
            return formatInfo(renderInfo(snap), args)
        if self.router.state() == "down":
            return render()
        return self.refreshKeyspace().addCallback(render)

    def refreshKeyspace(self) -> Deferred:
        """
        Ask the primaries for their keyspace (L{keyspace}).
        """
        from kvtwist.backends.cluster.info import primariesKeyspace

        def got(result):
            figures, answered, asked = result
            if figures is not None:
                self.keyspace = figures
            self._keyspaceAnswered = (answered, asked)
        return primariesKeyspace(self.router).addCallback(got)

    def backendFigures(self) -> BackendFigures:
        """
        The backend's part of the stats snapshot
        (L{kvtwist.stats.IBackendStats}): its kind, the keyspace when last
        asked, no persistence of its own, and the C{# Backend} section.
        """
        from kvtwist.backends.cluster.info import backendFields
        return BackendFigures(self.kind, self.keyspace, None,
                              backendFields(self, self._keyspaceAnswered))

    # -- state ------------------------------------------------------------------

    def figures(self) -> Dict[str, object]:
        """
        The C{# Backend} section of INFO: the backend's kind and state, its
        nodes and slots, and what the router counted.
        """
        router = self.router
        table = router.table
        stats = router.stats
        return {
            "backend": self.kind,
            "backend_state": router.state(),
            "backend_nodes": len(table.allAddresses()) if table else 0,
            "backend_primaries": len(table.primaryAddresses()) if table
            else 0,
            "backend_replicas": table.replicaCount() if table else 0,
            "backend_slots_covered": table.covered() if table else 0,
            "backend_moved": stats.moved,
            "backend_ask": stats.ask,
            "backend_retries": stats.retries,
            "backend_timeouts": stats.timeouts,
            "backend_connection_errors": stats.connectionErrors,
            "backend_ambiguous_writes": stats.ambiguous,
            "backend_unconfirmed_writes": stats.unconfirmed,
            "backend_table_refreshes": stats.refreshes,
            "backend_wait_replicas": router.waitReplicas,
            "backend_timeout_seconds": "%g" % (router.timeout,),
        }


def _shaped(handler: Callable, label: str, router) -> Callable:
    """
    C{handler}, its reply shaped for the client
    (L{kvtwist.backends.cluster.shapes}).
    """
    def run(ctx, name, args, entry):
        reply = handler(ctx, name, args, entry)
        protover = ctx.client.protover
        if isinstance(reply, Deferred):
            return reply.addCallback(
                lambda r: shape(label, r, args, protover,
                                router.doubleText))
        return shape(label, reply, args, protover, router.doubleText)
    return run


def _isSingleKey(spec: CommandSpec) -> bool:
    """
    Whether C{spec}'s only key is always its first argument.
    """
    if spec.subcommands or spec.movable or spec.finder is not None:
        return False
    if spec.keySpecs is not None:
        if len(spec.keySpecs) != 1:
            return False
        k = spec.keySpecs[0]
        return k.beginType == "index" and k.index == 1 and \
            k.findType == "range" and k.lastKey == 0
    return spec.legacy == (1, 1, 1) and "movablekeys" not in spec.flags
