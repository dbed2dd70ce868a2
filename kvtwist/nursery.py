# -*- test-case-name: kvtwist.test.test_nursery -*-
"""
PyPy's nursery, sized for a server before the server starts.

PyPy makes new objects in its I{nursery} and sizes it from the CPU cache
size C{/proc/cpuinfo} reports, and virtual machines report it wrong both
ways.

  - Some report the host's whole cache: on one of this project's
    machines, 480 MB, so PyPy took a 240 MB nursery.  Every new object
    then landed in memory no cache holds, and the process kept 240 MB it
    didn't need.  With a 32 MB nursery kvtwist answered unpipelined
    clients 10-15% faster there, pipelined ones as fast or faster, and
    its empty process took 140 MB instead of 356 MB.

  - Others report only a core's L2 cache: on another, 512 KB, so PyPy
    took 1 MB.  A minor collection then runs every megabyte of new
    objects, over a thousand times a second under a pipelined load, and
    each one walks every part of the store's dict written since the one
    before (PyPy marks the parts of a big array that a write touches):
    with 100,000 keys, minor collections took about 1.1 microseconds per
    pipelined C{SET} (0.6 with 32 MB), and the C{SET}s cost 15-25% more
    server CPU than with 32 MB (C{GET}s 5-10% more).

PyPy reads the size only when it starts (C{PYPY_GC_NURSERY}), so when that
variable is unset and PyPy chose a size outside L{SMALLEST} to L{LARGEST},
C{twistd kvstore} runs its own command line again, in the same process
(C{exec}), with C{PYPY_GC_NURSERY} set to L{CHOSEN}, before it writes its
pid file, opens its log or daemonizes.  Setting the variable yourself, to
any size, keeps it.
"""

import os
import platform
import re
import sys
from typing import Dict, List, Optional

ENV = "PYPY_GC_NURSERY"

#: Set for the process run again: the size PyPy had chosen (see
#: L{logRestart}).
MARKER = "KVTWIST_PYPY_NURSERY_WAS"

#: The nursery kvtwist asks for.
CHOSEN = "32MB"

#: PyPy's choices outside these are replaced with L{CHOSEN}: larger ones
#: come from a misreported cache, smaller ones, whatever their cause, make
#: minor collections too frequent for a big store.
SMALLEST = 16 * 1024 * 1024
LARGEST = 64 * 1024 * 1024

_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}


def parseSize(text: str) -> Optional[int]:
    """
    Bytes in a size as PyPy's C{gc.get_stats()} formats it (C{"240.0MB"},
    C{"512.0kB"}) or as C{PYPY_GC_NURSERY} takes it (C{"32M"}), or L{None}
    if it can't be read.
    """
    match = re.match(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*([KMG]?)B?\s*$",
                     text, re.IGNORECASE)
    if match is None:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def nurserySize() -> Optional[int]:
    """
    This interpreter's nursery in bytes, or L{None} if it has none (not
    PyPy) or doesn't say.
    """
    if platform.python_implementation() != "PyPy":
        return None
    import gc
    try:
        size = gc.get_stats().nursery_size
    except Exception:
        return None
    return size if isinstance(size, int) else parseSize(str(size))


def restartArgs(env: Dict[str, str], size: Optional[int],
                cmdline: Optional[bytes]) -> Optional[List[bytes]]:
    """
    The command line to run again with L{CHOSEN}, or L{None} to go on.

    @param env: the environment.
    @param size: the nursery in bytes (L{nurserySize}).
    @param cmdline: C{/proc/self/cmdline}'s contents, if readable.
    """
    if ENV in env or size is None or SMALLEST <= size <= LARGEST or \
            not cmdline:
        return None
    args = cmdline.split(b"\0")
    if args[-1] == b"":
        del args[-1]
    return args or None


def _cmdline() -> Optional[bytes]:
    """
    This process's command line as Linux keeps it (arguments ended by
    NULs), or L{None} elsewhere.
    """
    try:
        with open("/proc/self/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return None


def restartIfMissized(log, execve=os.execve, modules=sys.modules):
    """
    On PyPy, with no C{PYPY_GC_NURSERY} set and a nursery outside
    L{SMALLEST} to L{LARGEST}, run this process's command line again with
    a nursery of L{CHOSEN}; else return.  Only while the process is
    starting: once a reactor runs it is left alone.

    @param log: a L{twisted.logger.Logger}, told if that fails (the
        process then goes on as it is).
    @param execve: L{os.execve}.
    @param modules: L{sys.modules}, where the reactor would be.
    """
    reactor = modules.get("twisted.internet.reactor")
    if getattr(reactor, "running", False):
        return
    size = nurserySize()
    if size is None:
        return
    args = restartArgs(os.environ, size, _cmdline())
    if args is None or not sys.executable:
        return
    env = dict(os.environ)
    env[ENV] = CHOSEN
    env[MARKER] = str(size)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        execve(sys.executable, args, env)
    except OSError as e:
        log.warn("Could not run again with {env}={chosen} ({error}); going "
                 "on with PyPy's {size} MB nursery", env=ENV, chosen=CHOSEN,
                 error=e, size=size // (1024 * 1024))


def logRestart(log, env=os.environ):
    """
    In a process L{restartIfMissized} ran again, say so on C{log} (a
    L{twisted.logger.Logger}), once, and take C{PYPY_GC_NURSERY} back out
    of the environment the user gave.
    """
    was = env.pop(MARKER, None)
    if was is None:
        return
    env.pop(ENV, None)
    try:
        was = int(was) // (1024 * 1024)
    except ValueError:
        return
    now = nurserySize()
    log.info("PyPy chose a {was} MB GC nursery from the cache size the CPU "
             "reports; kvtwist asked for {env}={chosen} and runs with "
             "{now} MB (set {env} yourself to choose)", was=was, env=ENV,
             chosen=CHOSEN, now=None if now is None else now // (1024 * 1024))
