"""
The C{twistd kvstore} plugin and the C{kvepoll} reactor.  Only names
L{kvtwist.tap} and L{kvtwist.reactor}: nothing heavy is imported while
twistd scans its plugins.
"""

from twisted.application.reactors import Reactor
from twisted.application.service import ServiceMaker


class KVServiceMaker(ServiceMaker):
    """
    The C{kvstore} plugin.  Its options are L{kvtwist.tap.TwistdOptions}:
    reading them makes the process-wide choices of startup (the reactor,
    PyPy's nursery), as twistd's own C{--reactor} does, and a mistake
    stops the process with one or two lines.  The service comes from
    L{kvtwist.tap.makeTwistdService}, which changes nothing process-wide.
    """

    @property
    def options(self):
        """
        The options class twistd instantiates for C{kvstore}.
        """
        from kvtwist.tap import TwistdOptions
        return TwistdOptions

    def makeService(self, options):
        """
        The service tree for the parsed C{options}.
        """
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
