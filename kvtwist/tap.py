# -*- test-case-name: kvtwist.test.test_tap -*-
"""
The options of C{twistd kvstore}, and the service tree they describe.

  - L{Options} reads and checks the command line, as a library does: a
    mistake is a L{usage.UsageError}.
  - L{TwistdOptions} is what the plugin gives twistd: the same options, a
    mistake shown in one or two lines (not after twistd's whole help),
    and, once they are read, the process-wide choices of startup
    (L{prepareProcess}), made before twistd writes its pid file, opens
    its log or daemonizes, as twistd's own C{--reactor} is.
  - L{makeService} builds the tree from parsed options and changes
    nothing process-wide; L{makeTwistdService}, what the plugin calls,
    first tries the ports, so that a port in use is named before twistd
    daemonizes.
"""

import difflib
import math
import os
import platform
import re
import sys
import tempfile

from twisted.logger import Logger
from twisted.python import usage

from kvtwist import __version__
from kvtwist.dialects.resp import DEFAULT_MAX_BULK
from kvtwist.listening import (ListenError, checkDescription,
                               portToEndpoint, tryListening, withBacklog)
from kvtwist import logs
from kvtwist.logs import parseLevel
from kvtwist.services import ClientsService, KVService, ListenerService
from kvtwist.startup import Reporter, StartupError

_FSYNC_MODES = ("always", "interval", "no")

#: The smallest C{--max-bulk}: Redis's smallest C{proto-max-bulk-len}.
MIN_MAX_BULK = 1024 * 1024

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


#: Redis's size units (its C{memtoull}), by suffix.
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000 ** 2,
          "mb": 1024 ** 2, "g": 1000 ** 3, "gb": 1024 ** 3}


def _size(word: str) -> int:
    """
    A size with Redis's units (C{8mb}, C{64k}, C{1000}).

    @raise ValueError: if it isn't one.
    """
    word = word.lower()
    digits = word.rstrip("bkmg")
    unit = word[len(digits):]
    if not digits.isdigit() or unit not in _UNITS:
        raise ValueError(word)
    return int(digits) * _UNITS[unit]


#: C{--pubsub-output-limit}'s default, Redis's: C{32mb 8mb 60}.
DEFAULT_PUBSUB_OUTPUT_LIMIT = (32 * 1024 ** 2, 8 * 1024 ** 2, 60)


def parseOutputLimit(value: str):
    """
    C{--pubsub-output-limit}: C{"HARD SOFT SECONDS"}, as Redis's
    C{client-output-buffer-limit pubsub} (sizes with Redis's units; 0
    for no limit).

    @return: C{(hard, soft, seconds)}.
    """
    words = value.split()
    try:
        if len(words) != 3 or not words[2].isdigit():
            raise ValueError(value)
        return (_size(words[0]), _size(words[1]), int(words[2]))
    except ValueError:
        raise usage.UsageError(
            "--pubsub-output-limit must be HARD SOFT SECONDS, such as "
            "'32mb 8mb 60', not %r" % (value,))


def _seconds(name):
    def parse(value):
        try:
            n = float(value)
        except ValueError:
            raise usage.UsageError("--%s must be a number of seconds, not %r"
                                   % (name, value))
        if not math.isfinite(n):
            raise usage.UsageError("--%s must be a number of seconds, not %r"
                                   % (name, value))
        if n < 0:
            raise usage.UsageError("--%s must not be negative" % (name,))
        return n
    return parse


def versionLine() -> str:
    """
    What C{twistd kvstore --version} prints: kvtwist's version, Twisted's
    and the interpreter's.
    """
    import twisted
    return "kvtwist %s (Twisted %s, %s %s)" % (
        __version__, twisted.__version__, platform.python_implementation(),
        platform.python_version())


def _endpointError(option: str, value: str, problem: str) -> str:
    """
    A usage error for an endpoint option, for people.
    """
    if problem.startswith("Unknown endpoint type"):
        return ("--%s %s is neither a port number nor an endpoint "
                "description: give a port such as 3490, or an endpoint "
                "such as tcp:3490:interface=127.0.0.1" % (option, value))
    return "--%s %s: %s" % (option, value, problem)


class Options(usage.Options):
    """
    Options of C{twistd kvstore}.

    Once parsed: C{log-level}, a L{twisted.logger.LogLevel};
    C{endpoints}, the description of each listener of the
    key-value port (C{--port}, then each C{--listen}); C{listeners}, the
    same as C{(option, value, description)}; C{web}, the web interface's
    description or L{None}; C{password}, L{bytes} or L{None};
    C{data-dir}, absolute.
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
        ["pubsub-output-limit", None, None,
         "Drop a subscriber holding this much of unread messages: 'HARD "
         "SOFT SECONDS' (past HARD at once, past SOFT for SECONDS), as "
         "Redis's client-output-buffer-limit pubsub; default '32mb 8mb "
         "60', 0 for no limit.", parseOutputLimit],
        ["timeout", None, 0,
         "Close clients idle this many seconds (0: never).",
         _seconds("timeout")],
        ["requirepass", None, None,
         "Require this password (AUTH). Prefer --password-file."],
        ["password-file", None, None,
         "Read the required password from the first line of this file."],
        ["databases", None, 16,
         "How many databases (SELECT 0 to N-1), 1 to 100000.",
         _positiveInt("databases")],
        ["unterminated-ms", None, 0,
         "Run a text line left unterminated this many milliseconds as if "
         "it had ended (for clients that send a command without a line "
         "end; 0: off).",
         _positiveInt("unterminated-ms")],
        ["web", None, None,
         "Serve the web interface and /metrics on this endpoint, e.g. "
         "tcp:8080:interface=127.0.0.1 (off by default)."],
        ["backend", None, "memory",
         "Where the keys live: memory (in this process, durable in "
         "--data-dir) or redis-cluster://HOST:PORT[,HOST:PORT...] (a "
         "stateless front end over Redis Cluster, its seed nodes; "
         "rediss-cluster:// for TLS to the nodes)."],
        ["backend-password-file", None, None,
         "Read the cluster nodes' password (requirepass) from the first "
         "line of this file."],
        ["backend-ca-file", None, None,
         "With rediss-cluster://, trust the nodes' certificates signed by "
         "the authorities in this PEM file (default: the system's)."],
        ["backend-wait", None, None,
         "N[:MS]: a write's reply waits until N replicas have it (WAIT, "
         "one per node connection per turn); if fewer did within MS "
         "milliseconds (default 1000), the client gets an error saying the "
         "write was applied on the primary but not confirmed."],
        ["backend-timeout", None, 5.0,
         "Seconds a client may wait for the cluster's reply before it gets "
         "an error instead.", _seconds("backend-timeout")],
        ["log-level", None, "info",
         "Log events of this level and above: debug, info, warn, error or "
         "critical (warn leaves out the line per client connection)."],
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

    #: The options that mean data kept by this process, which a cluster
    #: front end refuses.
    DATA_OPTIONS = ("data-dir", "fsync", "flush-interval", "load-damaged")

    def __init__(self):
        usage.Options.__init__(self)
        self["listen"] = []
        self._given = set()

    def parseOptions(self, options=None):
        """
        Parse C{options} (C{sys.argv[1:]} if not given), remembering
        which options were given (L{given}).
        """
        if options is None:
            options = sys.argv[1:]
        self._given = _givenOptions(options, self.longOpt, self.shortOpt)
        usage.Options.parseOptions(self, options)

    def given(self, name: str) -> bool:
        """
        Whether the long option C{name} was on the command line.
        """
        return name in self._given

    def opt_listen(self, description):
        """
        Also listen on this endpoint (repeatable): tcp:PORT, unix:PATH,
        ssl:PORT:privateKey=KEY:certKey=CERT.
        """
        self["listen"].append(description)

    def opt_version(self):
        """
        Print kvtwist's version (and Twisted's) and exit.
        """
        print(versionLine())
        sys.exit(0)

    def postOptions(self):
        """
        Check the values that depend on each other, and the endpoints.
        """
        if self["pubsub-output-limit"] is None:
            self["pubsub-output-limit"] = DEFAULT_PUBSUB_OUTPUT_LIMIT
        if self["fsync"] not in _FSYNC_MODES:
            raise usage.UsageError("--fsync must be one of %s, not %r"
                                   % (", ".join(_FSYNC_MODES), self["fsync"]))
        if self["flush-interval"] <= 0:
            raise usage.UsageError("--flush-interval must be positive")
        if not 1 <= self["databases"] <= 100000:
            raise usage.UsageError("--databases must be from 1 to 100000")
        if self["max-clients"] < 1:
            raise usage.UsageError("--max-clients must be at least 1")
        if self["max-bulk"] < MIN_MAX_BULK:
            # Smaller, not even a command's name fits (PING is a bulk).
            raise usage.UsageError(
                "--max-bulk must be at least %d (1mb), as Redis's "
                "proto-max-bulk-len" % (MIN_MAX_BULK,))
        try:
            self["log-level"] = parseLevel(self["log-level"])
        except ValueError as e:
            raise usage.UsageError(str(e))
        self["listeners"] = [
            ("port", self["port"], portToEndpoint(self["port"]))] + [
            ("listen", d, withBacklog(d)) for d in self["listen"]]
        self["endpoints"] = [d for _, _, d in self["listeners"]]
        web = self["web"]
        self["web-endpoint"] = portToEndpoint(web) if web else None
        checks = list(self["listeners"])
        if web:
            checks.append(("web", web, self["web-endpoint"]))
        for option, value, description in checks:
            try:
                checkDescription(description)
            except ValueError as e:
                raise usage.UsageError(_endpointError(option, value,
                                                      str(e)))
        self["password"] = self._password()
        self["data-dir"] = os.path.abspath(self["data-dir"])
        self._backendOptions()

    def _backendOptions(self):
        """
        Read C{--backend} and the options that go with it: C{cluster},
        the parsed L{kvtwist.backends.cluster.config.ClusterURL} or
        L{None}; C{backend-password}; C{backend-wait-replicas} and
        C{backend-wait-ms}.
        """
        from kvtwist.backends.cluster.config import (
            isCluster, parseClusterURL, parseWait)
        backend = self["backend"]
        self["cluster"] = None
        self["backend-password"] = None
        self["backend-wait-replicas"], self["backend-wait-ms"] = 0, 0
        if self["backend-timeout"] <= 0:
            raise usage.UsageError("--backend-timeout must be positive")
        clusterOnly = ("backend-password-file", "backend-wait",
                       "backend-ca-file")
        if not isCluster(backend):
            if backend != "memory":
                raise usage.UsageError(
                    "--backend must be memory or redis-cluster://HOST:PORT"
                    "[,HOST:PORT...], not %r" % (backend,))
            for name in clusterOnly:
                if self[name] is not None:
                    raise usage.UsageError(
                        "--%s goes with --backend redis-cluster://..., not "
                        "the memory backend" % (name,))
            return
        try:
            self["cluster"] = parseClusterURL(backend)
            wait = parseWait(self["backend-wait"], self["backend-timeout"])
        except ValueError as e:
            raise usage.UsageError(str(e))
        self["backend-wait-replicas"], self["backend-wait-ms"] = wait
        if self.given("databases"):
            raise usage.UsageError(
                "--databases has no use with --backend %s: a cluster has "
                "one database" % (backend,))
        for name in self.DATA_OPTIONS:
            if self.given(name):
                raise usage.UsageError(
                    "--%s has no use with --backend %s: the front end keeps "
                    "no data (the cluster's nodes persist it)"
                    % (name, backend))
        path = self["backend-password-file"]
        if path:
            try:
                with open(path, "rb") as f:
                    secret = f.readline().rstrip(b"\r\n")
            except OSError as e:
                raise usage.UsageError("cannot read --backend-password-file "
                                       "%s: %s" % (path, e.strerror))
            if not secret:
                raise usage.UsageError("--backend-password-file %s is empty"
                                       % (path,))
            self["backend-password"] = secret
        if self["backend-ca-file"] and not self["cluster"].tls:
            raise usage.UsageError("--backend-ca-file goes with "
                                   "rediss-cluster:// (TLS to the nodes)")

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


def _givenOptions(argv, longOpt, shortOpt: str) -> set:
    """
    The long names of the options C{argv} gives (before a C{--}), as
    C{getopt} reads them: long options may be abbreviated, short ones
    grouped.
    """
    names = [n.rstrip("=") for n in longOpt]
    given = set()
    for arg in argv:
        if arg == "--":
            break
        if arg.startswith("--"):
            word = arg[2:].split("=", 1)[0]
            matches = [n for n in names if n == word] or \
                [n for n in names if n.startswith(word)]
            if len(matches) == 1:
                given.add(matches[0])
        elif arg.startswith("-") and len(arg) > 1:
            for letter in arg[1:]:
                long = _SHORT_OPTIONS.get(letter)
                if long is not None:
                    given.add(long)
                if letter + ":" in shortOpt:
                    break  # the rest is the value
    return given


#: The short options of the options whose presence matters.
_SHORT_OPTIONS = {"d": "data-dir"}


def usageMessage(options: usage.Options, error: Exception) -> str:
    """
    A usage mistake for people: C{twistd kvstore:}, the problem, a
    suggestion for a mistyped option, and where the options are listed.
    """
    message = str(error)
    unknown = re.match(r"option (-{1,2})([\w-]+) not recognized", message)
    if unknown:
        names = [name for name in options.longOpt]
        names = [n.rstrip("=") for n in names]
        close = difflib.get_close_matches(unknown.group(2), names, n=1)
        if close:
            message += " (did you mean --%s?)" % (close[0],)
    return ("twistd kvstore: %s\nRun 'twistd kvstore --help' for the "
            "options." % (message,))


def prepareProcess(options, modules=sys.modules):
    """
    The process-wide choices made once, as twistd starts, before anything
    runs: PyPy's nursery (this may run the whole command again, see
    L{kvtwist.nursery}), the reactor (unless twistd installed one,
    C{--reactor}, or C{--stock-reactor} is given) and the log level
    (L{filterTwistdLog}).  In a process whose reactor already runs,
    nothing changes.

    @param modules: L{sys.modules}, where the reactor would be.
    """
    from kvtwist import nursery
    from kvtwist.reactor import installIfNone
    nursery.restartIfMissized(_log, modules=modules)
    nursery.logRestart(_log)
    if not options.get("stock-reactor"):
        installIfNone()
    filterTwistdLog(options)


def filterTwistdLog(options, twistdLog=logs.TWISTD) -> bool:
    """
    Have twistd log through a filter of C{--log-level}: its C{logger}
    option, unless one was given (C{twistd --logger}), names
    L{kvtwist.logs.TWISTD}, which makes twistd's usual observer behind the
    filter.  Only under twistd (C{twist} has a C{--log-level} of its own).

    @return: whether the filter was put in place.
    """
    from twisted.application.app import ServerOptions
    parent = getattr(options, "parent", None)
    if not isinstance(parent, ServerOptions) or parent.get("logger"):
        return False
    parent["logger"] = twistdLog.use(parent, options["log-level"])
    return True


class TwistdOptions(Options):
    """
    The options as C{twistd kvstore} reads them: a mistake stops the
    process with one or two lines (L{usageMessage}) and status 1, and once
    they are read the process makes its startup choices
    (L{prepareProcess}).
    """

    def parseOptions(self, options=None):
        """
        Parse, and stop the process with a short message on a mistake.
        """
        try:
            Options.parseOptions(self, options)
        except usage.UsageError as e:
            raise SystemExit(usageMessage(self, e))

    def postOptions(self):
        """
        Check the options, then make the process-wide choices.
        """
        Options.postOptions(self)
        prepareProcess(self)


def _checkDataDir(path: str) -> str:
    """
    Create the data directory if missing and check it can be written.

    @raise StartupError: naming the path, if it can't be used.
    """
    path = os.path.abspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise StartupError("--data-dir %s is not a directory" % (path,))
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".kvtwist-probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise StartupError("--data-dir %s can't be used: %s"
                           % (path, e.strerror or e))
    return path


def tryPorts(options, attempt=tryListening):
    """
    Try each TCP port the options listen on (L{tryListening}), so that a
    port in use is named before the server starts.

    @param attempt: L{tryListening}.
    @raise StartupError: naming the option and the port.
    """
    checks = list(options["listeners"])
    if options["web-endpoint"]:
        checks.append(("web", options["web"], options["web-endpoint"]))
    for option, value, description in checks:
        try:
            attempt(description)
        except ListenError as e:
            raise StartupError("--%s %s: %s" % (option, value, e))


def makeTwistdService(options) -> KVService:
    """
    What C{twistd kvstore} calls, through the plugin, once the options are
    read: try the ports, then L{makeService}.  A L{StartupError} stops the
    process with its message and status 1, before twistd daemonizes; the
    tree keeps the terminal's standard error to tell one raised later, as
    it starts (L{kvtwist.startup.Reporter}).
    """
    try:
        tryPorts(options)
        checkCluster(options)
        top = makeService(options)
    except StartupError as e:
        raise SystemExit("twistd kvstore: %s" % (e,))
    top.reporter = Reporter.keepStderr()
    return top


def checkCluster(options, probe=None) -> None:
    """
    With a cluster backend, greet its seed nodes (L{kvtwist.backends.
    cluster.probe}): a wrong password, a server that is no cluster node
    or a TLS mismatch is named before the server starts; nodes that can't
    be reached yet are only logged.

    @raise StartupError: saying what to fix.
    """
    url = options.get("cluster")
    if url is None:
        return
    from kvtwist.backends.cluster import probe as probing
    probe = probe or probing.probe
    try:
        warning = probe(url, options["backend-password"],
                        timeout=min(2.0, options["backend-timeout"]),
                        caFile=options["backend-ca-file"])
    except probing.ClusterMisconfigured as e:
        raise StartupError(str(e))
    if warning:
        _log.warn("{problem}", problem=warning)


def makeService(options, reactor=None) -> KVService:
    """
    Build the kvtwist service tree, which stops in reverse order: the
    store service (started first, stopped last: the final flush), the
    clients (closed gracefully once the listeners stopped, so no write is
    acknowledged after that flush), one listener per endpoint, and the web
    interface.

    @param options: parsed L{Options}.
    @param reactor: the reactor the tree listens, schedules and runs
        threads with; the global one (looked up when first needed) if not
        given.
    @raise StartupError: if the data directory can't be used, or another
        server uses it.
    """
    from kvtwist import idlegc
    from kvtwist.factory import Config, KVFactory
    from kvtwist.persist import DataDirInUse, StoreService, threadPoolRunner
    from kvtwist.store import Store

    top = KVService()
    top.reactor = reactor
    top.freezeHeap = True
    runInThread = threadPoolRunner(reactor)
    cluster = options.get("cluster")
    backend = None
    if cluster is not None:
        from kvtwist.backends.cluster.service import (
            ClusterService, makeClusterBackend)
        backend = makeClusterBackend(
            cluster, reactor, password=options["backend-password"],
            timeout=options["backend-timeout"],
            waitReplicas=options["backend-wait-replicas"],
            waitMs=options["backend-wait-ms"],
            caFile=options["backend-ca-file"])
        ClusterService(backend).setServiceParent(top)
        store = storeService = None
    else:
        _checkDataDir(options["data-dir"])
        store = Store(runInThread=runInThread,
                      databases=options["databases"])
        storeService = StoreService(
            store, options["data-dir"], fsync=options["fsync"],
            flushInterval=options["flush-interval"], clock=reactor,
            reactor=reactor, loadDamaged=bool(options["load-damaged"]))
        try:
            # Refused here, before twistd daemonizes, the message reaches
            # the terminal; the store service takes the lock itself as it
            # starts.
            storeService.lock.check()
        except (DataDirInUse, OSError) as e:
            raise StartupError(str(e))
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
        flushInterval=options["flush-interval"],
        databases=options["databases"] if cluster is None else 1,
        backend=options["backend"],
        pubsubOutputLimit=options["pubsub-output-limit"])
    factory = KVFactory(store, storeService, config, clock=reactor,
                        runInThread=runInThread, backend=backend)
    if idlegc.available():
        idlegc.IdleCollector(factory.stats, clock=reactor).setServiceParent(
            top)
    ClientsService(factory).setServiceParent(top)
    for description in options["endpoints"]:
        ListenerService(description, factory, reactor,
                        onListening=factory.listeningOn).setServiceParent(top)
    if options["web-endpoint"]:
        from kvtwist.web import makeWebService
        web = makeWebService(factory, options["web-endpoint"], reactor)
        web.setServiceParent(top)
    if storeService is not None:
        # Last, so stopped first: no exit while the log can't be written.
        storeService.gate().setServiceParent(top)
    return top
