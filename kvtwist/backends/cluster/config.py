# -*- test-case-name: kvtwist.test.test_cluster_config -*-
"""
The C{--backend*} options of a cluster front end, read and checked: the
seed nodes (C{redis-cluster://HOST:PORT[,HOST:PORT...]}, or
C{rediss-cluster://} for TLS to the nodes) and C{--backend-wait N[:MS]}.
"""

from typing import List, NamedTuple, Optional, Tuple

from kvtwist.backends.cluster.slots import Address, parseAddress

SCHEMES = {"redis-cluster": False, "rediss-cluster": True}

#: C{--backend-wait}'s default C{MS}.
DEFAULT_WAIT_MS = 1000


class ClusterURL(NamedTuple):
    """
    A parsed C{--backend redis-cluster://...}.

    @ivar seeds: the nodes named (the rest of the cluster is learnt from
        them).
    @ivar tls: whether to speak TLS to the nodes.
    @ivar text: the option's value as given.
    """

    seeds: Tuple[Address, ...]
    tls: bool
    text: str


def isCluster(value: str) -> bool:
    """
    Whether a C{--backend} value names a cluster (rather than C{memory}).
    """
    return "://" in value


def parseClusterURL(value: str) -> ClusterURL:
    """
    Read C{redis-cluster://HOST:PORT[,HOST:PORT...]}.

    @raise ValueError: saying what is wrong, for people.
    """
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        raise ValueError(
            "--backend must be memory or redis-cluster://HOST:PORT"
            "[,HOST:PORT...] (rediss-cluster:// for TLS), not %r" % (value,))
    rest = rest.rstrip("/")
    if not rest:
        raise ValueError("--backend %s names no node: give at least one "
                         "HOST:PORT" % (value,))
    seeds: List[Address] = []
    for part in rest.split(","):
        part = part.strip()
        try:
            address = parseAddress(part)
        except ValueError:
            raise ValueError("--backend %s: %r is not HOST:PORT"
                             % (value, part))
        if not address.host:
            raise ValueError("--backend %s: %r has no host" % (value, part))
        if address not in seeds:
            seeds.append(address)
    return ClusterURL(tuple(seeds), SCHEMES[scheme.lower()], value)


def parseWait(value: Optional[str], timeout: float) -> Tuple[int, int]:
    """
    Read C{--backend-wait N[:MS]}: C{(N, MS)}, C{(0, 0)} when not given.

    @param timeout: C{--backend-timeout}, which C{MS} must stay under (a
        client would get the timeout's error before the WAIT's answer).
    @raise ValueError: saying what is wrong, for people.
    """
    if value is None:
        return 0, 0
    count, sep, ms = value.partition(":")
    if not count.isdigit() or (sep and not ms.isdigit()):
        raise ValueError("--backend-wait must be N or N:MS (replicas, "
                         "milliseconds), not %r" % (value,))
    replicas = int(count)
    wait = int(ms) if sep else DEFAULT_WAIT_MS
    if replicas < 1:
        raise ValueError("--backend-wait: N must be at least 1 (leave the "
                         "option out not to wait)")
    if wait < 1:
        raise ValueError("--backend-wait: MS must be at least 1 (Redis's "
                         "WAIT 0 would wait for ever)")
    if wait >= timeout * 1000:
        raise ValueError("--backend-wait %s: MS must be less than "
                         "--backend-timeout (%g s), or clients would get "
                         "the timeout's error first" % (value, timeout))
    return replicas, wait
