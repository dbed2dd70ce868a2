# -*- test-case-name: kvtwist.test.test_services -*-
"""
The services of C{twistd kvstore}'s tree, which L{kvtwist.tap.makeService}
puts together: the listeners, the step that closes the clients, the
ordered stop, and the top of the tree.
"""

from twisted.application import service
from twisted.application.internet import StreamServerEndpointService
from twisted.internet import endpoints
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import CannotListenError
from twisted.logger import Logger

from kvtwist import idlegc
from kvtwist.listening import describeSocketError, where
from kvtwist.startup import StartupError

#: What twistd is told when the tree fails to start: short, for twistd
#: reports the first 100 bytes of it from a daemon; the reason itself goes
#: to the terminal (L{Reporter}) and the log.
NOT_STARTED = "could not start: the reason is above, and in the log"


class ListenerService(StreamServerEndpointService):
    """
    Listens on one endpoint and logs where, once bound: C{"Server
    listening on 127.0.0.1:3490"} (tests and the benchmark read the port
    of a server given port 0 from that line).
    """

    _log = Logger()

    def __init__(self, description: str, factory, reactor=None,
                 label: str = "Server", onListening=None):
        """
        @param description: the endpoint description.
        @param factory: the factory of the connections accepted.
        @param reactor: the reactor to listen with; the global one if not
            given.
        @param label: what the log line says is listening.
        @param onListening: called with the address listened on, once
            bound (the factory learns the port of C{tcp:0}), or L{None}.
        """
        self.onListening = onListening
        if reactor is None:
            from twisted.internet import reactor
        StreamServerEndpointService.__init__(
            self, endpoints.serverFromString(reactor, description), factory)
        self.description = description
        self.label = label
        self._raiseSynchronously = True

    def privilegedStartService(self):
        """
        Listen now; if that fails, raise L{StartupError} saying why for
        people.
        """
        try:
            StreamServerEndpointService.privilegedStartService(self)
        except CannotListenError as e:
            raise StartupError(self._cannotListen(e))
        except OSError as e:
            raise StartupError("%s: can't listen on %s: %s" % (
                self.label, self.description, e.strerror or e))
        self._waitingForPort.addCallback(self._listening)

    def _cannotListen(self, e: CannotListenError) -> str:
        error = e.socketError
        if isinstance(e.port, int) and isinstance(error, OSError):
            return "%s: %s" % (self.label, describeSocketError(
                where(e.interface or "", e.port), error, e.port))
        return "%s: can't listen on %s: %s" % (
            self.label, self.description,
            getattr(error, "strerror", None) or error)

    def _listening(self, port):
        address = port.getHost()
        host = getattr(address, "host", None)
        if host is not None:
            place = "%s:%s" % (host, address.port)
        else:
            place = str(getattr(address, "name", self.description))
        self._log.info("{label} listening on {where}", label=self.label,
                       where=place)
        if self.onListening is not None:
            self.onListening(address)
        return port


class ClientsService(service.Service):
    """
    Closes a factory's clients gracefully when stopped: the step of a
    shutdown between "stop listening" and "flush the store", so that no
    write is acknowledged after the last flush.
    """

    def __init__(self, factory, timeout: float = 5.0):
        """
        @param factory: the L{kvtwist.factory.KVFactory}.
        @param timeout: seconds the clients have to take their last
            replies before they are aborted.
        """
        self.factory = factory
        self.timeout = timeout

    def stopService(self) -> Deferred:
        """
        Close every client; fire once they are all gone.
        """
        service.Service.stopService(self)
        return self.factory.disconnectAll(self.timeout)


class OrderedMultiService(service.MultiService):
    """
    A L{service.MultiService} that stops its children one at a time, the
    last added first, each once the one before has finished stopping
    (L{service.MultiService} stops them all at once).
    """

    _log = Logger()

    def stopService(self) -> Deferred:
        """
        Stop the children in reverse order, one after another.
        """
        service.Service.stopService(self)
        d = succeed(None)
        for child in reversed(list(self)):
            d.addCallback(lambda _, child=child: child.stopService())
            d.addErrback(lambda f, child=child: self._log.failure(
                "stopping {child} failed", f, child=child))
        return d


class KVService(OrderedMultiService):
    """
    The top of the tree.  A L{StartupError} while starting is logged and
    told to the person who started the server (L{reporter}), and twistd
    is given a short one (L{NOT_STARTED}); a shutdown asked for by SIGTERM
    or SIGINT that flushed everything exits with status 0, as Redis does,
    rather than twistd's default of re-raising the signal.

    @ivar storeService: the L{kvtwist.persist.StoreService}.
    @ivar reactor: the reactor the tree runs on; the global one if
        L{None}.
    @ivar reporter: the L{kvtwist.startup.Reporter} of startup failures (twistd's
        standard error, kept from before it daemonized), or L{None}; let
        go once the tree has started.
    @ivar freezeHeap: whether to freeze the heap once started (a server;
        not a test's tree, whose process goes on).
    """

    storeService = None
    reactor = None
    reporter = None
    freezeHeap = False

    def privilegedStartService(self):
        """
        Start the children's privileged part (listening).
        """
        self._starting(OrderedMultiService.privilegedStartService)

    def startService(self):
        """
        Start the children; then let the reporter go.  With L{freezeHeap},
        once the reactor runs, what the start made is frozen out of the
        garbage collector's way (L{kvtwist.idlegc.freezeHeap}).
        """
        self._starting(OrderedMultiService.startService)
        if self.reporter is not None:
            self.reporter.close()
        if self.freezeHeap:
            reactor = self.reactor
            if reactor is None:
                from twisted.internet import reactor
            reactor.callWhenRunning(idlegc.freezeHeap)

    def _starting(self, step):
        try:
            step(self)
        except StartupError as e:
            self._log.critical("{error}", error=e)
            if self.reporter is None:
                raise
            self.reporter.report(e)
            raise self.reporter.quiet(StartupError(NOT_STARTED)) from None

    def stopService(self) -> Deferred:
        """
        Stop every child in order; then, if the final flush succeeded,
        let the process exit 0.
        """
        d = OrderedMultiService.stopService(self)
        d.addCallback(self._exitStatus)
        return d

    def _exitStatus(self, result):
        # A front end over a cluster has no store service: nothing of its
        # own to flush.
        if self.storeService is None or \
                getattr(self.storeService, "stoppedCleanly", False):
            reactor = self.reactor
            if reactor is None:
                from twisted.internet import reactor
            # twistd re-raises the signal that stopped the reactor so the
            # process dies of it; a clean shutdown is a success instead.
            if getattr(reactor, "_exitSignal", None) is not None:
                reactor._exitSignal = None
        else:
            self._log.error("shutdown did not finish cleanly: exiting with "
                            "the signal's status")
        return result


__all__ = ["StartupError", "ListenerService",
           "ClientsService", "OrderedMultiService", "KVService"]
