# -*- test-case-name: kvtwist.test.test_persist_shutdown -*-
"""
No exit with acknowledged writes not on disk, as Redis does it.

When the server is asked to stop (SIGTERM, Ctrl+C, C{SHUTDOWN}) while
writing the log fails (a full disk, say), it refuses to exit: it keeps
retrying, says why every few seconds, and keeps serving (reads; writes get
C{MISCONF}), so that an operator can free space.  It exits without writing
them only when told so explicitly: C{SHUTDOWN NOSAVE}, or a second SIGTERM
or SIGINT; then it says loudly how much is lost.

L{ShutdownGate} is the first service of the tree to stop: it holds the
rest (the listeners, the clients) until the log is written or the writes
are given up, so that C{SHUTDOWN NOSAVE} can still be sent.
"""

import signal as _signal
from typing import Callable, Optional

from twisted.application.service import Service
from twisted.internet.defer import Deferred, inlineCallbacks, succeed
from twisted.logger import Logger

from kvtwist.persist.journal import Journal
from kvtwist.persist.writer import LogWriter


def _either(first: Deferred, second: Deferred) -> Deferred:
    """
    A Deferred that fires (with L{None}) once either fires; neither is
    changed.
    """
    d = Deferred()

    def fire(result):
        if not d.called:
            d.callback(None)
        return result

    first.addBoth(fire)
    second.addBoth(fire)
    return d


class ExitGuard:
    """
    Writes what the journal holds before the server exits, for as long as
    it takes, unless told to give up.

    @ivar abandoned: why the unwritten writes were given up, or L{None}.
    """

    #: Seconds between the logs that say why the server doesn't exit.
    LOG_EVERY = 5.0

    _log = Logger()

    def __init__(self, journal: Journal, writer: LogWriter, clock,
                 retryInterval: float = 1.0,
                 installSignal: Optional[Callable] = None,
                 callFromThread: Optional[Callable] = None):
        """
        @param retryInterval: seconds between retries of a failing write.
        @param installSignal: C{signal.signal}, or a replacement in tests.
        @param callFromThread: the reactor's C{callFromThread} (a signal
            handler must not touch the reactor directly).
        """
        self._journal = journal
        self._writer = writer
        self._clock = clock
        self._retryInterval = min(retryInterval, 1.0)
        self._installSignal = installSignal or _signal.signal
        self._callFromThread = callFromThread
        self.abandoned: Optional[str] = None
        self._lossReported = False
        self._given = Deferred()
        self._previous = {}

    def abandon(self, why: str):
        """
        Give up the writes not on disk yet: L{untilWritten} stops waiting
        for them.
        """
        if self.abandoned is None:
            self.abandoned = why
            self._log.warn("Told to exit without waiting for the log: {why}",
                           why=why)
            self._given.callback(None)

    def _wait(self, d: Deferred) -> Deferred:
        if self.abandoned is not None:
            return succeed(None)
        return _either(d, self._given)

    @inlineCallbacks
    def tryOnce(self):
        """
        Write everything journaled so far, once.

        @return: a Deferred firing with whether nothing is left unwritten.
        """
        writer = self._writer
        yield writer.whenIdle()
        writer.flush()
        yield writer.whenIdle()
        return not (self._journal.hasUnwritten() or writer.held)

    @inlineCallbacks
    def untilWritten(self, upto: Optional[int] = None):
        """
        Write everything journaled, retrying a failing write until it
        works (saying why every L{LOG_EVERY} seconds; a second SIGTERM or
        SIGINT gives up) or L{abandon} is called.

        @param upto: the sequence number of the last op that must be
            written (clients still write meanwhile: waiting for I{nothing}
            unwritten might never end); every op journaled if L{None}.
        @return: a Deferred firing with L{None} once that is written, or
            once given up (then what is lost is logged).
        """
        writer = self._writer
        journal = self._journal
        lastSaid = None

        def done():
            if writer.inFlight:
                return False
            if upto is None:
                return not (journal.hasUnwritten() or writer.held)
            return journal.durableSeq >= upto

        try:
            while True:
                yield self._wait(writer.whenIdle())
                if self.abandoned is None:
                    writer.flush()
                    yield self._wait(writer.whenIdle())
                if done():
                    return
                if self.abandoned is not None:
                    if self._lossReported:
                        return
                    self._lossReported = True
                    self._log.critical(
                        "Exiting without writing {bytes} bytes of the log "
                        "({ops} writes acknowledged to clients): {why}. "
                        "Those writes are LOST.",
                        bytes=journal.pendingBytes(),
                        ops=journal.pendingOps(), why=self.abandoned)
                    return
                if writer.failing():
                    now = self._clock.seconds()
                    if lastSaid is None:
                        self._catchSecondSignal()
                    if lastSaid is None or now - lastSaid >= self.LOG_EVERY:
                        lastSaid = now
                        self._log.critical(
                            "Refusing to exit: {bytes} bytes of the log "
                            "({ops} writes acknowledged to clients) are not "
                            "on disk: {error}. Retrying every {interval}s; "
                            "free space, or send SHUTDOWN NOSAVE or a "
                            "second SIGTERM to exit without them.",
                            bytes=journal.pendingBytes(),
                            ops=journal.pendingOps(),
                            error=writer.writeError or journal.sealError,
                            interval=self._retryInterval)
                    pause = Deferred()
                    call = self._clock.callLater(self._retryInterval,
                                                 pause.callback, None)
                    yield self._wait(pause)
                    if call.active():
                        call.cancel()
        finally:
            self._restoreSignals()

    def _catchSecondSignal(self):
        def handler(signum, frame):
            name = {_signal.SIGTERM: "SIGTERM",
                    _signal.SIGINT: "SIGINT"}.get(signum, str(signum))
            why = "a second %s" % (name,)
            if self._callFromThread is not None:
                self._callFromThread(self.abandon, why)
            else:
                self.abandon(why)

        for sig in (_signal.SIGTERM, _signal.SIGINT):
            try:
                self._previous[sig] = self._installSignal(sig, handler)
            except ValueError:
                # Not the main thread: no signal reaches us here anyway.
                pass

    def _restoreSignals(self):
        previous, self._previous = self._previous, {}
        for sig, handler in previous.items():
            if handler is not None:
                try:
                    self._installSignal(sig, handler)
                except ValueError:
                    pass


class ShutdownGate(Service):
    """
    The first service of the tree to stop: it holds the others until the
    store service has written its log (see L{ExitGuard}), while clients
    can still connect (to send C{SHUTDOWN NOSAVE}).
    """

    name = "kvtwist-shutdown-gate"

    def __init__(self, storeService):
        self._store = storeService

    def stopService(self) -> Deferred:
        """
        Wait until the log is written, or the writes are given up.
        """
        Service.stopService(self)
        return self._store.writeBeforeExit()
