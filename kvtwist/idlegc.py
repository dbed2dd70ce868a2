# -*- test-case-name: kvtwist.test.test_idlegc -*-
"""
Give memory back to the system after a burst of traffic.

Two things keep the memory of a burst (request buffers, argument lists,
replies, log encoding) in a server that goes quiet after it:

  - PyPy's garbage collector starts a major collection only once the heap
    has grown well past (1.82 times) what the previous one left alive, so
    the burst's garbage stays until the next burst;
  - freed memory in the middle of the C heap stays mapped: glibc returns
    only the top of its heap to the system by itself.

Loading a million small keys into kvtwist on PyPy leaves about 330 bytes
of RSS per key, of which about 135 are the keys; on CPython about 200.
L{IdleCollector} notices the quiet after busy traffic and then, on PyPy,
runs one major collection in incremental steps (C{gc.collect_step}), one
per reactor turn so no client waits behind the whole collection, and then
calls glibc's C{malloc_trim}, which hands every free page back (well under
a millisecond).  After that the same load costs about 170 bytes per key on
PyPy and 185 on CPython.
"""

import gc
from functools import lru_cache
from typing import Callable, Optional

from twisted.application.service import Service
from twisted.logger import Logger

#: Stands for "look it up" in L{IdleCollector}'s arguments.
_FIND = object()


@lru_cache(maxsize=None)
def findTrim() -> Optional[Callable[[int], int]]:
    """
    glibc's C{malloc_trim}, or L{None} elsewhere (musl, macOS, no ctypes);
    looked up once.
    """
    try:
        import ctypes
        trim = ctypes.CDLL(None).malloc_trim
    except (ImportError, OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def freezeHeap(collector=gc) -> bool:
    """
    Collect once, then leave every object alive out of all later
    collections (C{gc.freeze}, CPython): call it once the server has
    started.

    What a server holds once started (Twisted's and kvtwist's modules,
    classes and functions, the store it recovered) is hundreds of
    thousands of objects that are never garbage, and every full
    collection walked all of them: about 40 ms each on this project's
    machines.  Objects that outlive a reactor turn (a cluster front end's
    requests in flight, replies waiting for the log) bring the next full
    collection on every few hundred milliseconds: at C{-P 16} a front end
    spent 29% of its time in them.  Frozen, they are not looked at; what
    is made later is collected as before.  PyPy's collector has no
    C{freeze} (nor the cost).

    @param collector: the C{gc} module, or a stand-in for tests.
    @return: whether it froze anything.
    """
    freeze = getattr(collector, "freeze", None)
    if freeze is None:
        return False
    collector.collect()
    freeze()
    return True


def available() -> bool:
    """
    Whether L{IdleCollector} has anything to do here: collect in steps
    (PyPy 7.3.4 and later) or trim the C heap (glibc).
    """
    return hasattr(gc, "collect_step") or findTrim() is not None


class IdleCollector(Service):
    """
    Every C{interval} seconds, look at the traffic counters; when less than
    C{quietBytes} went in or out since the last look (a monitor polling
    C{INFO} doesn't make a server busy) but at least C{threshold} bytes
    since the last release, collect (in steps, where the interpreter can)
    and trim the C heap, and count it in the stats' C{idleReleases}
    (INFO's C{idle_memory_releases}).
    """

    _log = Logger()

    def __init__(self, stats, clock=None, interval: float = 1.0,
                 threshold: int = 8 << 20, quietBytes: int = 64 << 10,
                 collectStep=_FIND, trim=_FIND, isEnabled=gc.isenabled):
        """
        @param stats: the server's L{kvtwist.stats.Stats}; its C{netInput}
            and C{netOutput} measure the traffic.
        @param clock: an L{IReactorTime}; the global reactor if not given.
        @param collectStep: one step of a major collection, returning an
            object whose C{major_is_done} says whether it finished, or
            L{None} for none; C{gc.collect_step} where it exists if not
            given.
        @param trim: C{trim(0)} gives free C heap memory back, or L{None}
            for none; L{findTrim}'s if not given.
        @param isEnabled: whether garbage collection is on (off while a
            background snapshot runs); nothing is released while it is off.
        """
        self.stats = stats
        self.clock = clock
        self.interval = interval
        self.threshold = threshold
        self.quietBytes = quietBytes
        if collectStep is _FIND:
            collectStep = getattr(gc, "collect_step", None)
        if trim is _FIND:
            trim = findTrim()
        self.collectStep = collectStep
        self.trim = trim
        self.isEnabled = isEnabled
        self._loop = None
        self._stepCall = None
        self._seen = None
        self._releasedAt = 0

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
        self._releasedAt = self._traffic()
        self._seen = self._releasedAt
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
        Release memory if the server is quiet after enough traffic.
        """
        now = self._traffic()
        quiet = now - self._seen < self.quietBytes
        self._seen = now
        if self._stepCall is not None:
            return
        if not self.isEnabled():
            # A BGSAVE child is writing: the service holds collection off
            # so that the parent doesn't copy its heap page by page
            # (gc.collect_step works even then).  Try again later.
            return
        if quiet and now - self._releasedAt >= self.threshold:
            self._releasedAt = now
            if self.collectStep is not None:
                self._step()
            else:
                self._release()

    def _step(self):
        self._stepCall = None
        try:
            done = self.collectStep().major_is_done
        except Exception:
            self._log.failure("idle collection step failed")
            return
        if done:
            self._release()
        else:
            self._stepCall = self.clock.callLater(0, self._step)

    def _release(self):
        if self.trim is not None:
            try:
                self.trim(0)
            except Exception:
                self._log.failure("malloc_trim failed")
                return
        self.stats.idleReleases += 1
        self._log.debug("memory released after a burst of traffic")
