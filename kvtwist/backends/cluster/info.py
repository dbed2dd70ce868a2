# -*- test-case-name: kvtwist.test.test_cluster_backend -*-
"""
C{INFO} through the redis-cluster backend: the front end's own sections
(server, clients, memory, stats), a C{# Backend} section, and the keyspace
summed over the primaries (their C{INFO keyspace}).
"""

from typing import Dict, List, Tuple

from twisted.internet.defer import inlineCallbacks, returnValue

from kvtwist.backends.cluster.fanout import gather
from kvtwist.replies import Error, Verbatim

Sections = List[Tuple[str, List[Tuple[str, object]]]]


def parseKeyspace(text: bytes) -> Dict[str, Dict[str, int]]:
    """
    The C{dbN:keys=..,expires=..,avg_ttl=..} lines of an C{INFO keyspace}
    reply, as C{{"db0": {"keys": N, ...}}}.
    """
    out = {}
    for line in bytes(text).decode("utf-8", "replace").splitlines():
        name, colon, value = line.strip().partition(":")
        if not colon or not name.startswith("db"):
            continue
        fields = {}
        for pair in value.split(","):
            k, eq, v = pair.partition("=")
            if eq and v.lstrip("-").isdigit():
                fields[k] = int(v)
        out[name] = fields
    return out


def sumKeyspaces(keyspaces: List[Dict[str, Dict[str, int]]]
                 ) -> Tuple[int, int, int]:
    """
    C{(keys, expires, avg_ttl)} of db0 over the primaries (the average TTL
    weighted by each primary's keys with an expiry).
    """
    keys = expires = weighted = 0
    for keyspace in keyspaces:
        db = keyspace.get("db0", {})
        keys += db.get("keys", 0)
        n = db.get("expires", 0)
        expires += n
        weighted += n * db.get("avg_ttl", 0)
    return keys, expires, (weighted // expires) if expires else 0


@inlineCallbacks
def keyspace(backend):
    """
    The keyspace over the reachable primaries: a Deferred firing with
    C{(keys, expires, avg_ttl, answered, asked)}.
    """
    router = backend.router
    primaries = [n for n in router.primaries() if n.reachable]
    replies = yield gather([router.sendToNode(n.address,
                                              [b"INFO", b"keyspace"])
                            for n in primaries])
    good = [parseKeyspace(r) for r in replies
            if isinstance(r, bytes) and r.__class__ is not Error]
    keys, expires, ttl = sumKeyspaces(good)
    returnValue((keys, expires, ttl, len(good), len(router.primaries())))


class _NoData:
    """
    What the front end's own INFO sections see of its data: none (it
    keeps no keys; none expire here).
    """

    expiredCount = 0

    def size(self) -> int:
        return 0

    def expiringCount(self) -> int:
        return 0


def _field(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float):
        return "%.6f" % (value,)
    return str(value)


@inlineCallbacks
def info(backend, ctx, args: List[bytes]):
    """
    The C{INFO} reply: the memory backend's sections that describe the
    front end, then C{# Backend}, then C{# Keyspace} over the primaries.
    """
    from kvtwist.commands import Context
    from kvtwist.commands.server import infoSections
    local = Context(_NoData(), ctx.factory, None, ctx.client)
    wanted = {a.decode("utf-8", "replace").lower() for a in args}
    everything = not wanted or bool(
        wanted & {"all", "everything", "default"})
    sections: Sections = [
        (title, fields) for title, fields in infoSections(local)
        if title not in ("Keyspace", "Persistence")]
    sections.append(("Backend", list(backend.figures().items())))
    if everything or "keyspace" in wanted:
        keys, expires, ttl, answered, asked = yield keyspace(backend)
        fields = [("keys", keys),
                  ("db0", "keys=%d,expires=%d,avg_ttl=%d"
                   % (keys, expires, ttl))]
        if answered < asked:
            fields.append(("primaries_answered", "%d of %d"
                           % (answered, asked)))
        sections.append(("Keyspace", fields))
    lines = []
    for title, fields in sections:
        if not everything and title.lower() not in wanted:
            continue
        if lines:
            lines.append("")
        lines.append("# " + title)
        for name, value in fields:
            lines.append("%s:%s" % (name, _field(value)))
    returnValue(Verbatim(("\r\n".join(lines) + "\r\n").encode("utf-8")))
