# -*- test-case-name: kvtwist.test.test_tap -*-
"""
The C{twistd kvstore} plugin's options and service.
"""

import os
import tempfile

from twisted.application import service
from twisted.application.internet import StreamServerEndpointService
from twisted.internet import endpoints
from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python import usage

from kvtwist.dialects.resp import DEFAULT_MAX_BULK

_FSYNC_MODES = ("always", "interval", "no")

_log = Logger()


def _positiveInt(name):
    def parse(value):
        try:
            n = int(value)
        except ValueError:
            raise usage.UsageError("--%s must be an integer, not %r"
                                   % (name, value))
        if n < 0:
            raise usage.UsageError("--%s must not be negative" % (name,))
        return n
    return parse


def _seconds(name):
    def parse(value):
        try:
            n = float(value)
        except ValueError:
            raise usage.UsageError("--%s must be a number of seconds, not %r"
                                   % (name, value))
        if n < 0:
            raise usage.UsageError("--%s must not be negative" % (name,))
        return n
    return parse


#: The listen backlog, as Redis's C{tcp-backlog}: Twisted's default of 50
#: makes a burst of connects wait a second for a retry.
BACKLOG = 511


def portToEndpoint(port: str) -> str:
    """
    Turn a C{--port} value into an endpoint description: a bare number
    listens on every interface; anything else is already one.
    """
    if port.isdigit():
        return "tcp:%s:backlog=%d" % (port, BACKLOG)
    return withBacklog(port)


def withBacklog(description: str) -> str:
    """
    Add Redis's listen backlog to a TCP, TCP6, UNIX or SSL endpoint
    description that doesn't set one.
    """
    kind = description.split(":", 1)[0]
    if kind in ("tcp", "tcp6", "ssl", "unix") and \
            "backlog=" not in description:
        return "%s:backlog=%d" % (description, BACKLOG)
    return description


class Options(usage.Options):
    """
    Options of C{twistd kvstore}.
    """

    synopsis = "[options]"
    longdesc = ("Run the kvtwist key-value server: text, RESP (redis-cli, "
                "redis-py), colon and JSON-lines protocols on one port, "
                "durable in --data-dir.")

    optParameters = [
        ["port", "p", "3490",
         "Port number (listens on all interfaces) or endpoint description "
         "such as tcp:3490:interface=127.0.0.1."],
        ["data-dir", "d", ".",
         "Directory for the log and snapshot files (created if missing)."],
        ["flush-interval", None, 1.0,
         "Seconds between flushes of the append-only log.",
         _seconds("flush-interval")],
        ["fsync", None, "interval",
         "always (reply after the write is on disk), interval (fsync every "
         "flush interval) or no (leave it to the OS)."],
        ["max-clients", None, 10000,
         "Refuse connections beyond this many clients.",
         _positiveInt("max-clients")],
        ["max-output-buffer", None, 1024 * 1024,
         "Bytes of unsent replies per client before its input is paused.",
         _positiveInt("max-output-buffer")],
        ["max-bulk", None, DEFAULT_MAX_BULK,
         "Largest RESP bulk string accepted, in bytes.",
         _positiveInt("max-bulk")],
        ["timeout", None, 0,
         "Close clients idle this many seconds (0: never).",
         _seconds("timeout")],
        ["requirepass", None, None,
         "Require this password (AUTH). Prefer --password-file."],
        ["password-file", None, None,
         "Read the required password from the first line of this file."],
        ["unterminated-ms", None, 0,
         "Run a text line left unterminated this many milliseconds as if "
         "it had ended (for seed clients that send no line end; 0: off).",
         _positiveInt("unterminated-ms")],
        ["web", None, None,
         "Serve the web interface and /metrics on this endpoint, e.g. "
         "tcp:8080:interface=127.0.0.1 (off by default)."],
    ]

    optFlags = [
        ["no-protected-mode", None,
         "Accept clients from other hosts even with no password set."],
        ["stock-reactor", None,
         "Run on the reactor twistd picks as it is, not on kvtwist's epoll "
         "reactor with its cheaper event dispatch (kvtwist.reactor)."],
        ["load-damaged", None,
         "Start even if data files are damaged or missing: load what can "
         "be read, move the old files to DATA_DIR/damaged-* (see "
         "docs/operations.md)."],
    ]

    def __init__(self):
        usage.Options.__init__(self)
        self["listen"] = []

    def opt_listen(self, description):
        """
        Also listen on this endpoint (repeatable): tcp:PORT, unix:PATH,
        ssl:PORT:privateKey=KEY:certKey=CERT.
        """
        self["listen"].append(description)

    def postOptions(self):
        if self["fsync"] not in _FSYNC_MODES:
            raise usage.UsageError("--fsync must be one of %s, not %r"
                                   % (", ".join(_FSYNC_MODES), self["fsync"]))
        if self["flush-interval"] <= 0:
            raise usage.UsageError("--flush-interval must be positive")
        if self["max-clients"] < 1:
            raise usage.UsageError("--max-clients must be at least 1")
        self["endpoints"] = [portToEndpoint(self["port"])] + [
            withBacklog(d) for d in self["listen"]]
        self["password"] = self._password()
        self["data-dir"] = os.path.abspath(self["data-dir"])

    def _password(self):
        if self["requirepass"] is not None and self["password-file"]:
            raise usage.UsageError(
                "give --requirepass or --password-file, not both")
        if self["password-file"]:
            try:
                with open(self["password-file"], "rb") as f:
                    secret = f.readline().rstrip(b"\r\n")
            except OSError as e:
                raise usage.UsageError("cannot read --password-file %s: %s"
                                       % (self["password-file"], e.strerror))
            if not secret:
                raise usage.UsageError("--password-file %s is empty"
                                       % (self["password-file"],))
            return secret
        if self["requirepass"] is not None:
            if not self["requirepass"]:
                raise usage.UsageError("--requirepass must not be empty")
            return self["requirepass"].encode("utf-8")
        return None


def _checkDataDir(path: str) -> str:
    """
    Create the data directory if missing and check it can be written.

    @raise usage.UsageError: naming the path, if it can't be used.
    """
    path = os.path.abspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise usage.UsageError("--data-dir %s is not a directory" % (path,))
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".kvtwist-probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise usage.UsageError("--data-dir %s can't be used: %s"
                               % (path, e.strerror or e))
    return path


class ListenerService(StreamServerEndpointService):
    """
    Listens on one endpoint and logs where, once bound.
    """

    _log = Logger()

    def __init__(self, description: str, factory, reactor=None,
                 label: str = "Server"):
        """
        @param label: what the log line says is listening.
        """
        if reactor is None:
            from twisted.internet import reactor
        StreamServerEndpointService.__init__(
            self, endpoints.serverFromString(reactor, description), factory)
        self.description = description
        self.label = label
        self._raiseSynchronously = True

    def privilegedStartService(self):
        StreamServerEndpointService.privilegedStartService(self)
        self._waitingForPort.addCallback(self._listening)

    def _listening(self, port):
        address = port.getHost()
        host = getattr(address, "host", None)
        if host is not None:
            where = "%s:%s" % (host, address.port)
        else:
            where = str(getattr(address, "name", self.description))
        self._log.info("{label} listening on {where}", label=self.label,
                       where=where)
        return port


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
    The top of the tree.  A shutdown asked for by SIGTERM or SIGINT that
    flushed everything exits with status 0, as Redis does, rather than
    twistd's default of re-raising the signal.

    @ivar storeService: the L{kvtwist.persist.StoreService}.
    """

    storeService = None
    reactor = None

    def stopService(self) -> Deferred:
        """
        Stop every child in order; then, if the final flush succeeded,
        let the process exit 0.
        """
        d = OrderedMultiService.stopService(self)
        d.addCallback(self._exitStatus)
        return d

    def _exitStatus(self, result):
        if getattr(self.storeService, "stoppedCleanly", False):
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


def _prepareProcess(options):
    """
    The process-wide choices made once, as twistd starts, before anything
    runs: PyPy's nursery (this may run the whole command again, see
    L{kvtwist.nursery}) and the reactor (unless twistd installed one,
    C{--reactor}, or C{--stock-reactor} is given).
    """
    from kvtwist import nursery
    from kvtwist.reactor import installIfNone
    nursery.restartIfMissized(_log)
    nursery.logRestart(_log)
    if not options.get("stock-reactor"):
        installIfNone()


def makeTwistdService(options) -> service.MultiService:
    """
    What C{twistd kvstore} (and C{twist kvstore}) call, through the plugin:
    make the process-wide choices of startup (L{_prepareProcess}), then
    L{makeService}.  Code that builds the service itself, in a process of
    its own, calls L{makeService}, which changes nothing process-wide.
    """
    _prepareProcess(options)
    return makeService(options)


def makeService(options) -> service.MultiService:
    """
    Build the kvtwist service tree, which stops in reverse order: the
    store service (started first, stopped last: the final flush), the
    clients (closed gracefully once the listeners stopped, so no write is
    acknowledged after that flush), one listener per endpoint, and the web
    interface.
    """
    from kvtwist import idlegc
    from kvtwist.server import ClientsService, Config, KVFactory
    from kvtwist.persist import DataDirInUse, StoreService, threadPoolRunner
    from kvtwist.store import Store

    try:
        _checkDataDir(options["data-dir"])
    except usage.UsageError as e:
        # Not a usage error for twistd: Twisted before 26 exits 0 on those.
        raise SystemExit("twistd kvstore: %s" % (e,))
    top = KVService()
    runInThread = threadPoolRunner()
    store = Store(runInThread=runInThread)
    storeService = StoreService(
        store, options["data-dir"], fsync=options["fsync"],
        flushInterval=options["flush-interval"],
        loadDamaged=bool(options["load-damaged"]))
    try:
        # Refused here, before twistd daemonizes, the message reaches the
        # terminal; the store service takes the lock itself as it starts.
        storeService.lock.check()
    except (DataDirInUse, OSError) as e:
        raise SystemExit("twistd kvstore: %s" % (e,))
    storeService.setServiceParent(top)
    top.storeService = storeService
    config = Config(
        port=options["port"], maxClients=options["max-clients"],
        maxOutputBuffer=options["max-output-buffer"],
        maxBulk=options["max-bulk"], timeout=options["timeout"],
        protectedMode=not options["no-protected-mode"],
        password=options["password"],
        unterminatedMs=options["unterminated-ms"],
        dataDir=options["data-dir"], fsync=options["fsync"],
        flushInterval=options["flush-interval"])
    factory = KVFactory(store, storeService, config,
                        runInThread=runInThread)
    if idlegc.available():
        idlegc.IdleCollector(factory.stats).setServiceParent(top)
    ClientsService(factory).setServiceParent(top)
    for description in options["endpoints"]:
        ListenerService(description, factory).setServiceParent(top)
    if options["web"]:
        from kvtwist.web import makeWebService
        web = makeWebService(factory, portToEndpoint(options["web"]))
        web.setServiceParent(top)
    # Last, so stopped first: no exit while the log can't be written.
    storeService.gate().setServiceParent(top)
    return top
