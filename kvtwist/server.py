"""
The factory's old home: it lives in L{kvtwist.factory} now ("server" also
named C{commands/server.py}, Redis's server commands, and the factory in a
handler's context).  These names stay importable from here until every
caller has moved.
"""

from kvtwist.factory import (  # noqa: F401
    PROTECTED_MODE_REFUSAL, Config, KVFactory)
from kvtwist.stats import Stats  # noqa: F401
