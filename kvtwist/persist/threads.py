# -*- test-case-name: kvtwist.test.test_persist_writer -*-
"""
Where blocking work runs: the reactor's shared thread pool (big replies,
freeing a flushed store), or the log writer's own thread.

Each is a C{runInThread(f, *args) -> Deferred}: C{f} runs off the reactor
thread and the Deferred fires on the reactor thread with its result.
"""

import threading
from typing import Any, Callable

from twisted.internet.defer import Deferred
from twisted.python.threadpool import ThreadPool


def threadPoolRunner(reactor=None) -> Callable[..., Deferred]:
    """
    A C{runInThread(f, *args) -> Deferred} using C{reactor}'s thread pool
    (the global reactor's if not given), looked up on first use.
    """
    def runInThread(f, *args):
        from twisted.internet.threads import deferToThreadPool
        r = reactor
        if r is None:
            from twisted.internet import reactor as r
        return deferToThreadPool(r, r.getThreadPool(), f, *args)
    return runInThread


def _daemonThread(*args: Any, **kwargs: Any) -> threading.Thread:
    return threading.Thread(*args, daemon=True, **kwargs)


class _OneDaemonThread(ThreadPool):
    """
    A pool of one daemon thread: a write stuck in the kernel (a dead NFS
    server, say) can't keep the process from exiting once shutdown has
    given up on it.
    """

    threadFactory = staticmethod(_daemonThread)


class DedicatedThread:
    """
    One thread of its own, started on first use: work given to it runs in
    order, one piece at a time, never queued behind other work of the
    process (the shared pool also builds big replies).

    @ivar name: the thread's name.
    """

    def __init__(self, name: str, reactor=None):
        """
        @param name: the thread's name (shown by debuggers and py-spy).
        @param reactor: the reactor the results are delivered on; the
            global one if not given.
        """
        self.name = name
        self._reactor = reactor
        self._pool = None
        self._busy = 0

    def __call__(self, f: Callable[..., Any], *args: Any) -> Deferred:
        """
        Run C{f(*args)} on the thread.

        @return: a Deferred firing on the reactor thread with the result.
        """
        from twisted.internet.threads import deferToThreadPool
        reactor = self._reactor
        if reactor is None:
            from twisted.internet import reactor
            self._reactor = reactor
        if self._pool is None:
            self._pool = _OneDaemonThread(1, 1, name=self.name)
            self._pool.start()
        self._busy += 1
        d = deferToThreadPool(reactor, self._pool, f, *args)

        def done(result):
            self._busy -= 1
            return result

        return d.addBoth(done)

    def stop(self):
        """
        Let the thread end once idle; a thread still busy (a write stuck in
        the kernel) is left to die with the process, rather than waited
        for on the reactor thread.
        """
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if not self._busy:
            pool.stop()
