# -*- test-case-name: kvtwist.test.test_transactions -*-
"""
Transactions (Redis's C{transactions} group): C{MULTI}, C{EXEC},
C{DISCARD}, C{WATCH}, C{UNWATCH}.

A client's transaction lives in its L{ClientState}
(C{client.transaction}).  Between C{MULTI} and C{EXEC} the backend
queues its commands (L{queue}) instead of running them, answering
C{QUEUED}; a command that can't be queued (unknown, wrong arity, not
allowed in a transaction, a write while persistence fails) answers its
error and marks the transaction, whose C{EXEC} then answers C{EXECABORT}.
C{EXEC} hands the queued commands to the backend as one
L{kvtwist.commands.atomic.Atomic}: they run one after the other with
nothing in between, each answering its own reply (an error among them
doesn't stop the others), and their writes are journaled as one group.

C{WATCH} (see L{kvtwist.store.watches}) makes a later C{EXEC} answer a
null array, running nothing, if any watched key was changed meanwhile.

This is the memory backend's way: a backend over another engine (the
cluster front end) passes these commands through and never calls these
handlers.
"""

from typing import List, Tuple

from kvtwist.commands.atomic import Atomic
from kvtwist.commands.registry import Command, group
from kvtwist.replies import NULL_ARRAY, OK, QUEUED, Error
from kvtwist.store.watches import Watch

command = group("transactions")

#: The commands a client in C{MULTI} runs instead of queueing (Redis's
#: list, with kvtwist's C{EXIT} beside C{QUIT}).
NOT_QUEUED = frozenset(["EXEC", "DISCARD", "MULTI", "WATCH", "QUIT", "EXIT",
                        "RESET"])

EXECABORT = Error(
    "EXECABORT Transaction discarded because of previous errors.")
NOT_IN_TRANSACTION = Error("ERR Command not allowed inside a transaction")


class Transaction:
    """
    A client's transaction, from C{MULTI} to C{EXEC} or C{DISCARD}.

    @ivar queued: the commands queued, in order: C{(command, args)}.
    @ivar failed: whether a command failed to queue (C{EXEC} then
        answers C{EXECABORT} and runs nothing).
    @ivar writes: whether a write is queued.
    """

    __slots__ = ("queued", "failed", "writes")

    def __init__(self):
        self.queued: List[Tuple[Command, List[bytes]]] = []
        self.failed = False
        self.writes = False

    def run(self, run) -> list:
        """
        Run the queued commands through C{run} (an
        L{kvtwist.backends.atomic.AtomicRun}): their replies, in order.
        """
        return run.runAll(self.queued)


def queue(ctx, cmd: Command, args: List[bytes], failure=None):
    """
    Queue C{cmd} in C{ctx}'s client's transaction (the backend calls this
    for a known command of the right arity, sent after C{MULTI}).

    @param failure: the C{MISCONF} error writes get now, or L{None}.
    @return: C{QUEUED}, or the error that made the transaction fail.
    """
    transaction = ctx.client.transaction
    if "no_multi" in cmd.flags:
        transaction.failed = True
        return NOT_IN_TRANSACTION
    if cmd.write:
        if failure is not None:
            transaction.failed = True
            return failure
        transaction.writes = True
    transaction.queued.append((cmd, args))
    return QUEUED


def refused(ctx, error: Error) -> Error:
    """
    C{error}, the reply to a command that could not run (unknown, wrong
    arity); if its client is in C{MULTI}, its transaction fails (C{EXEC}
    will answer C{EXECABORT}).
    """
    transaction = ctx.client.transaction
    if transaction is not None:
        transaction.failed = True
    return error


def discard(client):
    """
    End C{client}'s transaction, if any, and stop watching (C{DISCARD},
    and C{RESET} or a connection's end).
    """
    client.transaction = None
    watching = client.watching
    if watching is not None:
        client.watching = None
        watching.release(check=False)


def unwatch(client) -> bool:
    """
    Stop watching C{client}'s keys (C{EXEC}); whether one of them was
    changed since it was watched.
    """
    watching = client.watching
    if watching is None:
        return False
    client.watching = None
    return watching.release()


@command("MULTI", 1, "noscript loading stale fast allow_busy",
         "Start a transaction: the next commands are queued until EXEC.",
         (0, 0, 0), syntax="MULTI")
def multi(ctx, args):
    client = ctx.client
    if client.transaction is not None:
        return Error("ERR MULTI calls can not be nested")
    client.transaction = Transaction()
    return OK


@command("EXEC", 1, "noscript loading stale skip_slowlog",
         "Run the commands queued since MULTI, as one.", (0, 0, 0),
         syntax="EXEC")
def exec_(ctx, args):
    client = ctx.client
    transaction = client.transaction
    if transaction is None:
        return Error("ERR EXEC without MULTI")
    client.transaction = None
    touched = unwatch(client)
    if transaction.failed:
        return EXECABORT
    if touched:
        return NULL_ARRAY
    return Atomic(lambda run: _runQueued(client, transaction, run),
                  transaction.writes)


def _runQueued(client, transaction, run) -> list:
    """
    Run C{transaction}'s queued commands for C{EXEC}: meanwhile the client
    is still in it for C{CLIENT LIST}
    (L{kvtwist.commands.ClientState.executing}).
    """
    client.executing = transaction
    try:
        return transaction.run(run)
    finally:
        client.executing = None


@command("DISCARD", 1, "noscript loading stale fast allow_busy",
         "Forget the commands queued since MULTI.", (0, 0, 0),
         syntax="DISCARD")
def discard_(ctx, args):
    client = ctx.client
    if client.transaction is None:
        return Error("ERR DISCARD without MULTI")
    discard(client)
    return OK


@command("WATCH", -2, "noscript loading stale fast allow_busy",
         "Make the next EXEC run nothing if one of these keys changes "
         "first.", (1, -1, 1), syntax="WATCH key [key ...]")
def watch(ctx, args):
    client = ctx.client
    if client.transaction is not None:
        return Error("ERR WATCH inside MULTI is not allowed")
    watching = client.watching
    if watching is None:
        watching = client.watching = Watch()
    db = ctx.store
    for key in args:
        watching.add(db, key)
    return OK


@command("UNWATCH", 1, "noscript loading stale fast allow_busy",
         "Forget the keys WATCH watches.", (0, 0, 0), syntax="UNWATCH")
def unwatch_(ctx, args):
    watching = ctx.client.watching
    if watching is not None:
        ctx.client.watching = None
        watching.release(check=False)
    return OK
