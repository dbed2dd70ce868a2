# -*- test-case-name: kvtwist.test.test_persist_service -*-
"""
Running snapshot work in the background: in a forked child process
(L{ProcessForker}), or inline for tests and platforms without C{fork}
(L{InlineForker}).

Both give the same interface: C{start(work) -> handle}, C{poll(handle)}
(L{None} while running, then whether it succeeded) and C{kill(handle)}.

A child must never outlive its server: a server killed with C{kill -9}
during a C{BGSAVE}, restarted at once, must not find the old child still
writing in its data directory.  On Linux the child asks the kernel to kill
it when its parent dies (C{prctl(PR_SET_PDEATHSIG)}), and checks that its
parent is still the process that forked it (it may have died before that
request took effect).
"""

import os
import signal
import sys
from typing import Callable, Dict, Optional

from twisted.logger import Logger


#: prctl's option: the signal to get when the parent dies.
PR_SET_PDEATHSIG = 1


def _loadPrctl() -> Optional[Callable[..., int]]:
    """
    libc's C{prctl} through C{ctypes}, on Linux; L{None} elsewhere or if it
    can't be loaded.  Loaded in the parent: a child of a process with
    threads must not load libraries.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes
        prctl = ctypes.CDLL(None, use_errno=True).prctl
        prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong,
                          ctypes.c_ulong, ctypes.c_ulong]
        prctl.restype = ctypes.c_int
        return prctl
    except (ImportError, OSError, AttributeError):
        return None


class ParentGone(Exception):
    """
    The process that forked this child is gone: its work is abandoned.
    """


def dieWithParent(parent: int, prctl: Optional[Callable[..., int]]):
    """
    In a child: have the kernel kill this process when its parent dies
    (where C{prctl} is given), then check the parent is still C{parent}.

    @raise ParentGone: if it is not.
    """
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        raise ParentGone("parent %d is gone" % (parent,))


class ProcessForker:
    """
    Runs snapshot work in a forked child process that dies with its parent.
    """

    def start(self, work: Callable[[], object]) -> int:
        """
        Fork; the child arranges to die with this process, closes every
        inherited descriptor but the standard ones, lowers its priority,
        runs C{work} and exits 0, or 1 if it raised or this process is gone
        by the time it is done.  Return the child's pid.
        """
        parent = os.getpid()
        prctl = self._prctl
        pid = os.fork()
        if pid == 0:  # pragma: no cover (in the child)
            code = 1
            try:
                dieWithParent(parent, prctl)
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
                if os.getppid() != parent:
                    raise ParentGone("parent %d is gone" % (parent,))
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
        self._prctl = _loadPrctl()

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
