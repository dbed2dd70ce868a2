# -*- test-case-name: kvtwist.test.test_cluster_service -*-
"""
The cluster front end's place in the service tree: the service that starts
the router when the server starts (and ends its connections when it
stops), and the function that builds backend and service from the
options.
"""

from typing import Callable, Optional

from twisted.application import service
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from kvtwist.backends.cluster.backend import ClusterBackend
from kvtwist.backends.cluster.config import ClusterURL
from kvtwist.backends.cluster.info import KEYSPACE_INTERVAL
from kvtwist.backends.cluster.router import Router


def connector(reactor, tls: bool, caFile: Optional[str] = None
              ) -> Callable:
    """
    C{connect(host, port, factory, timeout)} for the router: plain TCP,
    or TLS checked against the system's certificate authorities (or
    C{caFile}'s).
    """
    if not tls:
        def connect(host, port, factory, timeout):
            return reactor.connectTCP(host, port, factory, timeout=timeout)
        return connect
    from twisted.internet import ssl
    trust = None
    if caFile:
        with open(caFile, "rb") as f:
            trust = ssl.Certificate.loadPEM(f.read())

    def connectTLS(host, port, factory, timeout):
        options = ssl.optionsForClientTLS(host, trustRoot=trust)
        return reactor.connectSSL(host, port, factory, options,
                                  timeout=timeout)
    return connectTLS


class ClusterService(service.Service):
    """
    Runs a L{Router}: it starts asking for the slot table when the server
    starts, and ends its connections when the server stops (after the
    clients are gone: it is the first service of the tree).

    @ivar backend: the L{ClusterBackend}.
    """

    _log = Logger()

    def __init__(self, backend: ClusterBackend):
        self.backend = backend
        self._keyspace = None

    def startService(self) -> None:
        """
        Start routing: the slot table, then the nodes' commands.
        """
        service.Service.startService(self)
        router = self.backend.router
        router.start()
        self._log.info("kvtwist is a front end of the Redis Cluster at "
                       "{seeds}", seeds=", ".join(str(s)
                                                  for s in router.seeds))
        router.whenTable().addCallback(
            lambda _: None if router.stopped else self.backend.loadSpecs())
        self._keyspace = LoopingCall(self._refreshKeyspace)
        self._keyspace.clock = router.clock
        self._keyspace.start(KEYSPACE_INTERVAL, now=False)

    def _refreshKeyspace(self):
        if self.backend.router.table is not None:
            self.backend.refreshKeyspace().addErrback(
                lambda f: self._log.failure("reading the keyspace", f))

    def stopService(self):
        """
        End every node connection.
        """
        service.Service.stopService(self)
        if self._keyspace is not None and self._keyspace.running:
            self._keyspace.stop()
        self.backend.router.stop()


def makeClusterBackend(url: ClusterURL, reactor,
                       password: Optional[bytes] = None,
                       timeout: float = 5.0, waitReplicas: int = 0,
                       waitMs: int = 0, caFile: Optional[str] = None
                       ) -> ClusterBackend:
    """
    The backend for C{--backend redis-cluster://...}, its router ready to
    start (L{ClusterService}).
    """
    if reactor is None:
        from twisted.internet import reactor
    router = Router(list(url.seeds), reactor,
                    connector(reactor, url.tls, caFile), timeout=timeout,
                    password=password, waitReplicas=waitReplicas,
                    waitMs=waitMs)
    return ClusterBackend(router, url.text)
