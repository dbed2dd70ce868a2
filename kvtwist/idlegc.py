# -*- test-case-name: kvtwist.test.test_idlegc -*-
"""
Give memory back after a burst of traffic, on PyPy.

PyPy's garbage collector starts a major collection only once the heap has
grown well past (1.82 times) what the previous one left alive.  A server
that absorbs a burst of writes and then goes quiet keeps the garbage of the
burst (request buffers, argument lists, replies) for as long as it stays
quiet: loading a million small keys leaves about 350 bytes of RSS per key,
of which about 130 are the keys.  L{IdleCollector} notices the quiet after
busy traffic and runs one major collection in incremental steps (PyPy's
C{gc.collect_step}), one per reactor turn, so no client waits behind the
whole collection.

CPython frees most garbage as soon as it is dropped (reference counting)
and has no C{gc.collect_step}; the collector is only used where that
exists (see L{available}).
"""

import gc
from typing import Callable, Optional

from twisted.application.service import Service
from twisted.logger import Logger


def available() -> bool:
    """
    Whether this interpreter collects in steps (PyPy 7.3.4 and later).
    """
    return hasattr(gc, "collect_step")


class IdleCollector(Service):
    """
    Every C{interval} seconds, look at the traffic counters; when nothing
    happened since the last look but at least C{threshold} bytes went in or
    out since the last collection, run a major collection in steps, and
    count it in the stats' C{idleCollections} (INFO's
    C{idle_gc_collections}).
    """

    _log = Logger()

    def __init__(self, stats, clock=None, interval: float = 1.0,
                 threshold: int = 8 << 20,
                 collectStep: Optional[Callable] = None):
        """
        @param stats: the server's L{kvtwist.server.Stats}; its C{netInput}
            and C{netOutput} measure the traffic.
        @param clock: an L{IReactorTime}; the global reactor if not given.
        @param collectStep: one step of a major collection, returning an
            object whose C{major_is_done} says whether it finished;
            C{gc.collect_step} if not given.
        """
        self.stats = stats
        self.clock = clock
        self.interval = interval
        self.threshold = threshold
        self.collectStep = collectStep or getattr(gc, "collect_step", None)
        self._loop = None
        self._stepCall = None
        self._seen = None
        self._collectedAt = 0

    def _traffic(self) -> int:
        return self.stats.netInput + self.stats.netOutput

    def startService(self):
        """
        Start looking at the traffic every C{interval} seconds.
        """
        from twisted.internet.task import LoopingCall
        Service.startService(self)
        if self.clock is None:
            from twisted.internet import reactor
            self.clock = reactor
        self._collectedAt = self._traffic()
        self._seen = self._collectedAt
        self._loop = LoopingCall(self.check)
        self._loop.clock = self.clock
        self._loop.start(self.interval, now=False).addErrback(
            lambda f: self._log.failure("idle collector failed", f))

    def stopService(self):
        """
        Stop looking, and stop a collection half done (PyPy finishes it on
        its own schedule).
        """
        Service.stopService(self)
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        if self._stepCall is not None and self._stepCall.active():
            self._stepCall.cancel()
        self._stepCall = None

    def check(self):
        """
        Start a collection if the server is quiet after enough traffic.
        """
        now = self._traffic()
        quiet = now == self._seen
        self._seen = now
        if self._stepCall is not None:
            return
        if quiet and now - self._collectedAt >= self.threshold:
            self._collectedAt = now
            self._step()

    def _step(self):
        self._stepCall = None
        try:
            done = self.collectStep().major_is_done
        except Exception:
            self._log.failure("idle collection step failed")
            return
        if done:
            self.stats.idleCollections += 1
            self._log.debug("idle collection done")
        else:
            self._stepCall = self.clock.callLater(0, self._step)
