"""
The C{twistd kvstore} plugin and the C{kvepoll} reactor.  Only names
L{kvtwist.tap} and L{kvtwist.reactor}: nothing heavy is
imported while twistd scans its plugins.
"""

from twisted.application.reactors import Reactor
from twisted.application.service import ServiceMaker


class KVServiceMaker(ServiceMaker):
    """
    The C{kvstore} plugin: builds the service with
    L{kvtwist.tap.makeTwistdService}, which also makes the process-wide
    choices of startup (the reactor, PyPy's nursery).
    """

    def makeService(self, options):
        from kvtwist.tap import makeTwistdService
        return makeTwistdService(options)


kvstore = KVServiceMaker(
    "kvtwist key-value server",
    "kvtwist.tap",
    "A durable key-value server speaking text, RESP, colon and JSON lines.",
    "kvstore",
)

kvepoll = Reactor(
    "kvepoll",
    "kvtwist.reactor",
    "epoll reactor with kvtwist's cheaper per-event dispatch (Linux).",
)
