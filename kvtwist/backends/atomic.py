# -*- test-case-name: kvtwist.test.test_transactions -*-
"""
Running several commands as one on the memory backend: the commands of an
C{EXEC}, the C{redis.call}s of a script (L{AtomicRun}).

They run on the reactor thread one after the other, so no other client's
command comes in between; the store's changes they make are journaled as
one group op (L{kvtwist.persist.journal.Journal.group}), which recovery
replays whole or not at all; with C{--fsync always} the reply waits once,
until the group is durable.
"""

from typing import Callable, List, Tuple

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.logger import Logger

from kvtwist.commands.atomic import Atomic
from kvtwist.commands.errors import errorReply
from kvtwist.commands.registry import Command, Offload, lookup
from kvtwist.replies import PLAIN, Error


class AtomicRun:
    """
    One C{EXEC} or script, while it runs.

    @ivar backend: the L{kvtwist.backends.memory.MemoryBackend}.
    @ivar ctx: the calling client's context.
    """

    _log = Logger()

    def __init__(self, backend, ctx):
        self.backend = backend
        self.ctx = ctx
        self._later: List[Callable[[], object]] = []

    @property
    def scripts(self):
        """
        The backend's scripts (L{kvtwist.scripting.engine.Scripts}),
        made on first use; L{None} where Lua is not installed.
        """
        return self.backend.scriptEngine()

    def later(self, f: Callable[[], object]):
        """
        Call C{f} once the whole C{EXEC} or script has run and its writes
        are journaled (C{BGSAVE} inside one is scheduled this way, so that
        its snapshot never holds half of it).
        """
        self._later.append(f)

    def runLater(self):
        """
        Call what L{later} was given, logging failures.
        """
        for f in self._later:
            try:
                result = f()
            except Exception:
                self._log.failure("work scheduled after EXEC failed")
                continue
            if isinstance(result, Deferred):
                result.addErrback(lambda failure: self._log.failure(
                    "work scheduled after EXEC failed", failure=failure))
        self._later = []

    def run(self, ctx, cmd: Command, args: List[bytes]):
        """
        Run C{cmd} (known, of the right arity) for C{ctx}: its reply, at
        once (O(store) work is done here), or a Deferred of it.
        """
        try:
            # (From its slot first: see MemoryBackend.execute.)
            handler = cmd.handler
            reply = handler(ctx, args)
        except Exception as e:
            return errorReply(cmd, e)
        if reply.__class__ not in PLAIN:
            if reply.__class__ is Offload:
                try:
                    return reply.work()
                except Exception as e:
                    return errorReply(cmd, e)
            if reply.__class__ is Atomic:
                # A script inside EXEC: part of the same run.
                return self._inner(ctx, cmd, reply)
            if isinstance(reply, Deferred):
                reply.addErrback(lambda f: errorReply(cmd, f.value))
        return reply

    def _inner(self, ctx, cmd: Command, atomic: Atomic):
        if atomic.writes:
            failure = self.backend.writeRefusal()
            if failure is not None:
                return failure
        try:
            return atomic.work(self)
        except Exception as e:
            return errorReply(cmd, e)

    def runAll(self, queued: List[Tuple[Command, List[bytes]]]):
        """
        Run an C{EXEC}'s queued commands for the caller, in order: the
        list of their replies, or a Deferred of it if some reply comes
        later.
        """
        ctx = self.ctx
        out = [self.run(ctx, cmd, args) for cmd, args in queued]
        for reply in out:
            if reply.__class__ not in PLAIN and isinstance(reply, Deferred):
                return gatherResults([r if isinstance(r, Deferred) else
                                      succeed(r) for r in out])
        return out

    def call(self, ctx, name: bytes, args: List[bytes],
             readOnly: bool = False):
        """
        Run a command a script calls (C{redis.call}): Redis's errors for
        a command scripts can't call; the command's reply otherwise,
        which must come at once.

        @param ctx: the script's context.
        @param readOnly: whether the script may not write (C{EVAL_RO}).
        """
        cmd = lookup(name)
        if cmd is None:
            return Error("ERR Unknown Redis command called from script")
        arity = cmd.arity
        n = len(args) + 1
        if (n != arity) if arity > 0 else (n < -arity):
            return Error("ERR Wrong number of args calling Redis command "
                         "from script")
        # A container (CONFIG, CLIENT, SCRIPT) has no flags of its own:
        # its subcommand's say whether a script may call it.
        if "noscript" in cmd.subcommand(args).flags:
            return Error("ERR This Redis command is not allowed from script")
        if cmd.write:
            if readOnly:
                return Error("ERR Write commands are not allowed from "
                             "read-only scripts.")
            failure = self.backend.writeRefusal()
            if failure is not None:
                return failure
        reply = self.run(ctx, cmd, args)
        if reply.__class__ not in PLAIN and isinstance(reply, Deferred):
            result = []
            reply.addBoth(result.append)
            if not result:
                return Error("ERR '%s' can't answer at once, so scripts "
                             "can't call it" % (cmd.name.lower(),))
            reply = result[0]
        return reply


def execAbort(error: Error) -> Error:
    """
    Redis's reply to an C{EXEC} refused as a whole because of C{error}.
    """
    return Error("EXECABORT Transaction discarded because of: %s" % (error,))
