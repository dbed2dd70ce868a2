"""
The store service's old home: it lives in L{kvtwist.persist} now.  These
names stay importable from here until every caller has moved.
"""

from kvtwist.persist import (  # noqa: F401
    FSYNC_MODES, RecoveryError, StoreService, threadPoolRunner)
