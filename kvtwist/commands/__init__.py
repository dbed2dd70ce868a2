# -*- test-case-name: kvtwist.test.test_commands -*-
"""
The commands: the table (L{kvtwist.commands.registry}) and one module of
handlers per Redis command group: L{keys} (generic), L{strings}, L{lists},
L{hashes}, L{sets}, L{zsets}, L{connection}, L{server}, L{pubsub},
L{transactions}, L{scripting}, L{streams}; L{databases} (SELECT, SWAPDB, FLUSHDB...)
and L{blocking} (BLPOP...).

A handler is called as C{handler(ctx, args)} with a
L{kvtwist.commands.context.Context} and the arguments (L{bytes}, without
the command name), and returns a neutral reply (L{kvtwist.replies}), or
an L{Offload} for O(store) work.  Dialects parse their requests into C{(name, args)} and a backend
(L{kvtwist.interfaces.IBackend}) runs them; nothing else calls a handler.

Importing this package registers every handler.  The handler modules
import the registry, never this package, so nothing here is imported in a
cycle.
"""

from typing import List

from kvtwist.commands.context import ClientState, Context
from kvtwist.commands.errors import errorReply
from kvtwist.commands.registry import (
    TABLE, Command, Offload, group, intArg, lookup)
from kvtwist.commands import (  # registers the handlers
    blocking, configuration, connection, databases, hashes, keys, lists,
    pubsub, scripting, server, sets, streams, strings, transactions,
    zsets)
from kvtwist.replies import PLAIN as PLAIN_REPLIES

__all__ = ["TABLE", "Command", "ClientState", "Context", "Offload",
           "PLAIN_REPLIES", "errorReply", "execute", "group", "intArg",
           "lookup", "blocking", "configuration", "connection", "databases",
           "hashes", "keys", "lists", "pubsub", "scripting", "server", "sets",
           "streams", "strings", "transactions", "zsets"]


def execute(ctx: Context, name: bytes, args: List[bytes]):
    """
    Run one command on C{ctx}'s store and service, through a
    L{kvtwist.backends.memory.MemoryBackend} made for the call.

    Kept for tests of bare commands: servers run commands through their
    factory's backend (C{factory.backend.execute}).
    """
    from kvtwist.backends.memory import MemoryBackend
    return MemoryBackend(ctx.store, ctx.service).execute(ctx, name, args)
