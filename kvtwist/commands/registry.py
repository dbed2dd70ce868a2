# -*- test-case-name: kvtwist.test.test_commands -*-
"""
The command table: one entry per command, shared by every dialect and
every backend.

Each entry knows what a router or a dialect needs without running the
command: its arity, its flags, where its keys are (Redis's first key, last
key and step), its syntax and a one-line summary.  Handler modules register
their handlers with the decorator their group makes (L{group}); this module
imports none of them.
"""

from typing import Callable, Dict, List, Optional, Tuple

from kvtwist.store import parseInt


class Command:
    """
    One entry of the command table.

    @ivar name: the upper-case name, as L{str}.
    @ivar arity: Redis's arity: the exact number of words including the
        name when positive, the minimum when negative.
    @ivar handler: C{handler(ctx, args)}, returning a neutral reply
        (L{kvtwist.replies}) or an L{Offload}.  It uses the store's
        results as plain values (the store answers at once) and may raise
        the store's exceptions (L{kvtwist.store.WrongType}...), which
        become Redis's error replies.
    @ivar flags: Redis's flags of the command (C{"write"}, C{"readonly"},
        ...), as a tuple of L{str}.
    @ivar write: whether it may change the store (journaled, refused while
        persistence is failing).
    @ivar noauth: whether it may run before authentication (C{no_auth}
        among its flags).
    @ivar blocking: whether it may wait for something to happen (Redis's
        C{blocking} flag: C{BLPOP}...): while its reply is a Deferred, a
        connection runs none of that client's later requests (see
        L{kvtwist.protocol.connection}).
    @ivar heavy: whether its reply may cost O(store) to compute (C{KEYS},
        C{PRINT}): while such a reply is pending, a connection reads no
        more of that client's requests, so that a pipeline of them holds
        one snapshot of the store at a time, not hundreds.
    @ivar summary: what it does, in a line.
    @ivar syntax: how to call it, Redis's way (C{GET key}).
    @ivar group: Redis's command group (C{"string"}, C{"generic"}, ...).
    @ivar firstKey: the position of its first key argument (the name is
        position 0), 0 if it takes no keys.
    @ivar lastKey: the position of its last key, negative from the end
        (-1: the last argument).
    @ivar step: the distance between key positions (2 for C{MSET}'s
        key-value pairs).
    @ivar subcommands: a container command's (C{CONFIG}, C{CLIENT},
        C{OBJECT}...) subcommands, by lower-case name (C{b"get"}), each a
        L{Command} named as Redis names it (C{CONFIG|GET}) with its own
        arity, flags and key positions; empty for other commands.  As in
        Redis 7, a container has no flags of its own: what a call may do
        is its subcommand's flags (L{subcommand}).
    """

    __slots__ = ("name", "arity", "write", "noauth", "blocking", "heavy",
                 "handler", "flags", "summary", "syntax", "group",
                 "firstKey", "lastKey", "step", "subcommands")

    def __init__(self, name: str, arity: int, handler: Callable,
                 flags: str = "", summary: str = "",
                 keys: Tuple[int, int, int] = (1, 1, 1), syntax: str = "",
                 group: str = "generic", heavy: bool = False,
                 subcommands: Optional[Dict[str, tuple]] = None):
        self.name = name
        self.arity = arity
        self.handler = handler
        self.flags = tuple(flags.split())
        self.write = "write" in self.flags
        self.noauth = "no_auth" in self.flags
        self.blocking = "blocking" in self.flags
        self.heavy = heavy
        self.summary = summary
        self.syntax = syntax or name
        self.group = group
        self.firstKey, self.lastKey, self.step = keys
        self.subcommands: Dict[bytes, "Command"] = {}
        for sub, spec in (subcommands or {}).items():
            subArity, subFlags = spec[0], spec[1]
            subKeys = spec[2] if len(spec) > 2 else (0, 0, 0)
            self.subcommands[sub.lower().encode("ascii")] = Command(
                "%s|%s" % (self.name, sub.upper()), subArity, handler,
                subFlags, keys=subKeys, group=group)

    def subcommand(self, args: List[bytes]) -> "Command":
        """
        The entry that describes a call with C{args} (without the name):
        its subcommand's (C{CONFIG GET ...}: C{CONFIG|GET}, whose flags
        say it is C{admin} and C{noscript}) for a container command and a
        subcommand it knows, this one otherwise.
        """
        if self.subcommands and args:
            return self.subcommands.get(args[0].lower(), self)
        return self

    def keysOf(self, args: List[bytes]) -> List[bytes]:
        """
        The key arguments of a call with C{args} (without the name), by
        the table's key positions.
        """
        if not self.firstKey:
            return []
        last = self.lastKey
        if last < 0:
            last += len(args) + 1
        return [args[i - 1] for i in range(self.firstKey, last + 1,
                                           self.step) if i - 1 < len(args)]


class Offload:
    """
    What a handler returns instead of a reply when the reply costs
    O(store) to compute (C{KEYS}, C{PRINT}): the backend calls C{work()}
    (on a snapshot the handler took, so the reply is the store as it was
    when the command ran), off the reactor thread when C{size} is big,
    and answers with its result.

    @ivar size: how many keys the work visits.
    @ivar work: a function of no arguments returning the reply, safe to
        call on another thread while the store changes.
    """

    __slots__ = ("size", "work")

    def __init__(self, size: int, work: Callable[[], object]):
        self.size = size
        self.work = work


#: Every command, by upper-case name.
TABLE: Dict[bytes, Command] = {}


def group(groupName: str):
    """
    The registering decorator of the commands of Redis's command group
    C{groupName}: a handler module says C{command = group("string")} once,
    then decorates each handler with C{@command(NAME, ARITY, ...)}.

    The decorator's arguments are L{Command}'s: C{flags} default to
    C{"readonly"}, C{keys} to C{(1, 1, 1)} (one key, the first argument).
    A container command (C{CONFIG}) has C{flags=""} and
    C{subcommands={"GET": (arity, flags[, keys]), ...}}, as Redis 7's
    C{COMMAND INFO} gives them (keys default to none).
    """
    def command(name: str, arity: int, flags: str = "readonly",
                summary: str = "", keys: Tuple[int, int, int] = (1, 1, 1),
                syntax: str = "", heavy: bool = False,
                subcommands: Optional[Dict[str, tuple]] = None):
        def register(handler):
            TABLE[name.upper().encode("ascii")] = Command(
                name.upper(), arity, handler, flags, summary, keys, syntax,
                group=groupName, heavy=heavy, subcommands=subcommands)
            return handler
        return register
    return command


def lookup(name: bytes) -> Optional[Command]:
    """
    The command called C{name} in any case, or L{None}.
    """
    cmd = TABLE.get(name)
    if cmd is None:
        cmd = TABLE.get(name.upper())
    return cmd


def lookupFull(name: bytes) -> Optional[Command]:
    """
    The command or subcommand called C{name} in any case, Redis 7's way
    (C{config|get} names C{CONFIG GET}), or L{None}.
    """
    container, bar, sub = name.partition(b"|")
    cmd = lookup(container)
    if cmd is None or not bar:
        return cmd
    return cmd.subcommands.get(sub.lower())


def intArg(value: bytes) -> int:
    """
    Parse an integer argument.

    @raise kvtwist.store.NotAnInteger: if it is not one (rendered as
        Redis's error).
    """
    return parseInt(value)
