# -*- test-case-name: kvtwist.test.test_scripting -*-
"""
Lua scripting (C{EVAL}, C{EVALSHA}, C{SCRIPT}), as Redis 7 runs it, in the
Lua 5.1 runtime of the C{lupa} package (Redis embeds Lua 5.1 too).

    - L{kvtwist.scripting.engine}: the Lua runtime, the script cache and
      running one script (L{Scripts});
    - L{kvtwist.scripting.prelude}: the Lua side: the sandbox scripts see
      (Redis's globals, read-only), the C{redis} table, the error handler,
      the time limit's hook;
    - L{kvtwist.scripting.convert}: replies to Lua values and back, as
      Redis converts them.

C{lupa} is a dependency on CPython.  Where it is missing (PyPy, where it
builds from source in minutes), the scripting commands answer L{MISSING}.
"""

from typing import Optional

from kvtwist.replies import Error

#: The reply of a scripting command where C{lupa} is not installed.
MISSING = Error(
    "ERR Lua scripting needs the 'lupa' package, which is not installed "
    "here: pip install lupa (on PyPy it builds from source, which takes a "
    "few minutes and needs a C compiler), then restart kvtwist")

_lua = None
_looked = False


def luaModule():
    """
    lupa's Lua 5.1 module (C{lupa.lua51}), imported on first use, or
    L{None} if lupa is not installed.
    """
    global _lua, _looked
    if not _looked:
        _looked = True
        try:
            import lupa.lua51 as lua
        except ImportError:
            lua = None
        _lua = lua
    return _lua


def available() -> bool:
    """
    Whether scripts can run here (lupa is installed).
    """
    return luaModule() is not None


def missingReason() -> Optional[Error]:
    """
    L{MISSING} where lupa is not installed, else L{None}.
    """
    return None if available() else MISSING
