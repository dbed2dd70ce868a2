# -*- test-case-name: kvtwist.test.test_web -*-
"""
The web interface and Prometheus metrics, served by L{twisted.web} from the
same process as the key-value server (C{twistd kvstore --web ENDPOINT}).

L{makeWebService} builds it; L{kvtwist.web.resources} has the pages,
L{kvtwist.web.api} the JSON API, L{kvtwist.web.metrics} C{/metrics}.
"""

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import MultiService
from twisted.internet import endpoints
from twisted.logger import Logger
from twisted.web.server import Site

from kvtwist.web.data import WebData
from kvtwist.web.resources import WebRoot
from kvtwist.web.sampler import Sampler, SamplerService
from kvtwist.web.session import Sessions

__all__ = ["makeRoot", "makeWebService", "WebListenerService", "WebSite"]


def makeRoot(factory, clock=None, sampler=None) -> WebRoot:
    """
    The root resource of the web interface for a
    L{kvtwist.server.KVFactory}.

    @param clock: an L{IReactorTime} for sessions; the factory's clock if
        not given.
    @param sampler: the L{Sampler} behind the chart, or L{None}.
    """
    clock = clock if clock is not None else factory.clock
    sessions = Sessions(factory.config.password, clock)
    return WebRoot(WebData(factory, sampler), sessions)


class WebSite(Site):
    """
    The web interface's L{Site}: no tracebacks shown to browsers, and no
    access log (the status page polls every few seconds, which would flood
    the server's log).
    """

    displayTracebacks = False
    noisy = False

    def log(self, request):
        """
        Log nothing per request.
        """


class WebListenerService(StreamServerEndpointService):
    """
    Listens for the web interface on one endpoint and logs where.
    """

    _log = Logger()

    def __init__(self, description: str, site, reactor=None):
        if reactor is None:
            from twisted.internet import reactor
        StreamServerEndpointService.__init__(
            self, endpoints.serverFromString(reactor, description), site)
        self.description = description
        self._raiseSynchronously = True

    def privilegedStartService(self):
        """
        Listen, and log the address once bound.
        """
        StreamServerEndpointService.privilegedStartService(self)
        self._waitingForPort.addCallback(self._listening)

    def _listening(self, port):
        address = port.getHost()
        host = getattr(address, "host", None)
        if host is not None:
            where = "%s:%s" % (host, address.port)
        else:
            where = str(getattr(address, "name", self.description))
        self._log.info("Web interface listening on {where}", where=where)
        return port


def makeWebService(factory, description: str, reactor=None,
                   sampleInterval: float = 2.0) -> MultiService:
    """
    The web interface as a service: a sampler feeding the status chart and
    a listener serving the pages on endpoint C{description}.

    @param factory: the L{kvtwist.server.KVFactory} to show.
    @param reactor: the reactor to listen with and sample by; the global
        one if not given.
    """
    top = MultiService()
    sampler = Sampler(factory, interval=sampleInterval)
    SamplerService(sampler, clock=reactor).setServiceParent(top)
    WebListenerService(description, WebSite(
        makeRoot(factory, clock=reactor, sampler=sampler)),
        reactor).setServiceParent(top)
    return top
