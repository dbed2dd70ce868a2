# -*- test-case-name: kvtwist.test.test_pubsub -*-
"""
RESP2's subscribed mode: while a RESP2 client subscribes to anything, it
may only (un)subscribe, C{PING} (answered with a C{pong} array), C{QUIT}
and C{RESET}; anything else gets Redis's error.  RESP3 clients (their
messages are push replies, told apart from replies) and the text protocol
may go on running every command.

A RESP connection runs its subscribed client's requests through a
L{SubscribedMode} in front of the server's backend: the check costs
nothing to the clients that never subscribe.
"""

from typing import Callable, List

from twisted.internet.defer import Deferred

from kvtwist.commands.registry import lookup
from kvtwist.replies import PONG, Error, Later

#: What a RESP2 client in subscribed mode may run.
ALLOWED = frozenset(["SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE",
                     "PUNSUBSCRIBE", "PING", "QUIT", "RESET"])

#: Commands with subcommands, named C{name|subcommand} in the error.
_CONTAINERS = frozenset(["CLIENT", "CONFIG", "COMMAND", "OBJECT", "PUBSUB",
                         "SCRIPT", "MEMORY", "FUNCTION", "ACL", "CLUSTER",
                         "LATENCY", "SLOWLOG", "XINFO", "XGROUP", "MODULE"])


def refusal(name: str, args: List[bytes]) -> Error:
    """
    Redis's error for a command a RESP2 client can't run while subscribed.
    """
    full = name.lower()
    if name in _CONTAINERS and args:
        full += "|" + args[0].decode("utf-8", "replace").lower()
    return Error("ERR Can't execute '%s': only (P|S)SUBSCRIBE / "
                 "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this "
                 "context" % (full,))


def _pong(reply):
    """
    C{PING}'s reply in subscribed mode: C{["pong", message]}.
    """
    if reply is PONG:
        return [b"pong", b""]
    if reply.__class__ is bytes:
        return [b"pong", reply]
    return reply


class SubscribedMode:
    """
    A backend, as a subscribed client's connection sees it: the RESP2
    subscribed mode's refusals in front of the server's backend.

    @ivar backend: the server's backend.
    """

    def __init__(self, backend, leave: Callable[[], None]):
        """
        @param leave: called when the client subscribes to nothing any
            more (its connection goes back to the backend itself).
        """
        self.backend = backend
        self._leave = leave

    def execute(self, ctx, name: bytes, args: List[bytes]):
        """
        Run a command of a subscribed client (see the module).
        """
        client = ctx.client
        backend = self.backend
        if not client.pubsub:
            self._leave()
            return backend.execute(ctx, name, args)
        if client.protover != 2:
            return backend.execute(ctx, name, args)
        cmd = lookup(name)
        if cmd is None or not client.authenticated:
            return backend.execute(ctx, name, args)
        arity = cmd.arity
        n = len(args) + 1
        if (n != arity) if arity > 0 else (n < -arity):
            return backend.execute(ctx, name, args)
        if cmd.name not in ALLOWED:
            return refusal(cmd.name, args)
        reply = backend.execute(ctx, name, args)
        if cmd.name == "PING":
            if isinstance(reply, Later):
                reply = reply.asDeferred()
            if isinstance(reply, Deferred):
                return reply.addCallback(_pong)
            return _pong(reply)
        if not client.pubsub:
            self._leave()
        return reply

    def endTurn(self):
        """
        The backend's.
        """
        self.backend.endTurn()

    def clientDisconnected(self, ctx) -> None:
        """
        The backend's, if it has one.
        """
        gone = getattr(self.backend, "clientDisconnected", None)
        if gone is not None:
            gone(ctx)
