# -*- test-case-name: kvtwist.test.test_web -*-
"""
The web interface and Prometheus metrics, served by L{twisted.web} from the
same process as the key-value server (C{twistd kvstore --web ENDPOINT}).

L{makeWebService} builds it; L{kvtwist.web.root} has the pages,
L{kvtwist.web.api} the JSON API, L{kvtwist.web.metrics} C{/metrics}.
"""

from twisted.application.service import MultiService
from twisted.web.server import Site

from kvtwist.services import ListenerService
from kvtwist.web.data import WebData
from kvtwist.web.root import WebRoot
from kvtwist.web.sampler import Sampler, SamplerService
from kvtwist.web.session import Sessions

__all__ = ["makeRoot", "makeWebService", "WebSite"]


def makeRoot(factory, clock=None, sampler=None) -> WebRoot:
    """
    The root resource of the web interface for a
    L{kvtwist.factory.KVFactory}.

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


def makeWebService(factory, description: str, reactor=None,
                   sampleInterval: float = 2.0) -> MultiService:
    """
    The web interface as a service: a sampler feeding the status chart and
    a listener serving the pages on endpoint C{description}.

    @param factory: the L{kvtwist.factory.KVFactory} to show.
    @param reactor: the reactor to listen with and sample by; the global
        one if not given.
    """
    top = MultiService()
    sampler = Sampler(factory, interval=sampleInterval)
    SamplerService(sampler, clock=reactor).setServiceParent(top)
    ListenerService(description, WebSite(
        makeRoot(factory, clock=reactor, sampler=sampler)),
        reactor, label="Web interface").setServiceParent(top)
    return top
