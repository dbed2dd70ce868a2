# -*- test-case-name: kvtwist.test.test_cluster_backend -*-
"""
The cluster front end's figures for the stats snapshot (L{kvtwist.stats}):
the front end's own counters are the server's; the backend's part is the
C{# Backend} section (L{ClusterBackend.figures}) and the keyspace summed
over the primaries (their C{INFO keyspace} and C{INFO stats}).

C{INFO} asks the primaries for their keyspace as it runs; C{/metrics} and
the web status page, which render a snapshot at once, show the keyspace
of the last time it was asked (INFO, or every L{KEYSPACE_INTERVAL}
seconds).
"""

from typing import Dict, List, Optional, Tuple

from twisted.internet.defer import inlineCallbacks, returnValue

from kvtwist.backends.cluster.fanout import gather
from kvtwist.replies import Error
from kvtwist.stats import DatabaseFigures, KeyspaceFigures

#: Seconds between two reads of the primaries' keyspace for the snapshot.
KEYSPACE_INTERVAL = 10.0


def parseInfoFields(text: bytes) -> Dict[str, str]:
    """
    The C{name:value} lines of an C{INFO} reply.
    """
    out = {}
    for line in bytes(text).decode("utf-8", "replace").splitlines():
        name, colon, value = line.strip().partition(":")
        if colon and not name.startswith("#"):
            out[name] = value
    return out


def parseDb(value: str) -> Dict[str, int]:
    """
    C{keys=3,expires=1,avg_ttl=0} as a dict.
    """
    fields = {}
    for pair in value.split(","):
        k, eq, v = pair.partition("=")
        if eq and v.lstrip("-").isdigit():
            fields[k] = int(v)
    return fields


def sumKeyspaces(infos: List[Dict[str, str]]) -> KeyspaceFigures:
    """
    The keyspace of the primaries together: their db0 keys and keys with
    an expiry (the average time to live weighted by those), and the keys
    they expired since they started.
    """
    keys = expiring = expired = weighted = 0
    for info in infos:
        db = parseDb(info.get("db0", ""))
        keys += db.get("keys", 0)
        n = db.get("expires", 0)
        expiring += n
        weighted += n * db.get("avg_ttl", 0)
        try:
            expired += int(info.get("expired_keys", 0))
        except ValueError:
            pass
    databases = (DatabaseFigures(0, keys, expiring,
                                 weighted // expiring if expiring else 0),
                 ) if keys else ()
    return KeyspaceFigures(keys, expiring, expired, databases)


@inlineCallbacks
def primariesKeyspace(router):
    """
    Ask the reachable primaries for their keyspace.

    @return: a Deferred firing with C{(KeyspaceFigures or None, answered,
        primaries)}: L{None} if none answered.
    """
    primaries = router.primaries()
    asked = [n for n in primaries if n.reachable]
    replies = yield gather([
        router.sendToNode(n.address, [b"INFO", b"keyspace", b"stats"])
        for n in asked])
    good = [parseInfoFields(r) for r in replies
            if isinstance(r, bytes) and r.__class__ is not Error]
    figures: Optional[KeyspaceFigures] = sumKeyspaces(good) if good \
        else None
    returnValue((figures, len(good), len(primaries)))


def backendFields(backend, answered: Optional[Tuple[int, int]] = None):
    """
    The C{# Backend} section: L{ClusterBackend.figures}, and how many
    primaries told their keyspace if not all did.
    """
    fields = list(backend.figures().items())
    if answered is not None and answered[0] < answered[1]:
        fields.append(("backend_keyspace_primaries", "%d of %d"
                       % answered))
    return tuple(fields)
