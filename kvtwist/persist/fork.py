# -*- test-case-name: kvtwist.test.test_persist_service -*-
"""
Running snapshot work in the background: in a forked child process
(L{ProcessForker}), or inline for tests and platforms without C{fork}
(L{InlineForker}).

Both give the same interface: C{start(work) -> handle}, C{poll(handle)}
(L{None} while running, then whether it succeeded) and C{kill(handle)}.
"""

import os
import signal
from typing import Callable, Dict, Optional

from twisted.logger import Logger


class ProcessForker:
    """
    Runs snapshot work in a forked child process.
    """

    def start(self, work: Callable[[], object]) -> int:
        """
        Fork; the child closes every inherited descriptor but the standard
        ones, lowers its priority, runs C{work} and exits 0, or 1 if it
        raised.  Return the
        child's pid.
        """
        pid = os.fork()
        if pid == 0:  # pragma: no cover (in the child)
            code = 1
            try:
                try:
                    import resource
                    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
                except Exception:
                    limit = 4096
                if limit <= 0 or limit > 1 << 20:
                    limit = 1 << 20
                os.closerange(3, limit)
                import gc
                gc.disable()
                try:
                    # Leave the CPU to the reactor on a busy machine.
                    os.nice(10)
                except OSError:
                    pass
                work()
                code = 0
            except BaseException:
                try:
                    import traceback
                    traceback.print_exc()
                except BaseException:
                    pass
            finally:
                os._exit(code)
        # While the child runs, every page the parent writes is copied
        # (copy-on-write).  A full garbage collection writes to the header
        # of every object: on PyPy that stalled the reactor for over 100 ms
        # per BGSAVE of a big store.  Hold collections off until the child
        # is done (only cyclic garbage can accumulate meanwhile).
        import gc
        if gc.isenabled():
            gc.disable()
            self._gcPaused.add(pid)
        return pid

    _gcPaused = None

    def __init__(self):
        self._gcPaused = set()

    def _childGone(self, pid: int):
        if pid in self._gcPaused:
            self._gcPaused.discard(pid)
            if not self._gcPaused:
                import gc
                gc.enable()

    def poll(self, pid: int) -> Optional[bool]:
        """
        L{None} while the child runs; then whether it succeeded.
        """
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            self._childGone(pid)
            return False
        if done == 0:
            return None
        self._childGone(pid)
        return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0

    def kill(self, pid: int):
        """
        Kill the child and reap it.
        """
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        self._childGone(pid)


class InlineForker:
    """
    Runs snapshot work synchronously in this process, for tests and for
    platforms without C{fork}.  The reactor stalls for the whole snapshot.
    """

    _log = Logger()

    def __init__(self):
        self._results: Dict[int, bool] = {}
        self._next = 0

    def start(self, work: Callable[[], object]) -> int:
        """
        Run C{work} now; return a handle for L{poll}.
        """
        self._next += 1
        try:
            work()
            ok = True
        except Exception:
            self._log.failure("snapshot work failed")
            ok = False
        self._results[self._next] = ok
        return self._next

    def poll(self, handle: int) -> Optional[bool]:
        """
        Whether the work succeeded.
        """
        return self._results.pop(handle, False)

    def kill(self, handle: int):
        """
        Nothing to kill.
        """
        self._results.pop(handle, None)
