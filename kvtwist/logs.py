# -*- test-case-name: kvtwist.test.test_logs -*-
"""
How much the server logs.

  - C{--log-level}: the least severe events logged (L{LEVELS}); the
    default, C{info}, logs a line per client connection; C{warn} leaves
    those out.  C{twistd kvstore} puts a level filter in front of the log
    observer twistd would use anyway (L{TwistdLog}).
  - L{RepeatLimiter}: a client that keeps causing the same warning (100,000
    bad colon lines, say) gets the first few logged, and then a count of
    the rest, not a line each.
"""

from collections import OrderedDict
from typing import Dict, List

from twisted.logger import (FilteringLogObserver, ILogObserver, LogLevel,
                            LogLevelFilterPredicate)

#: The names C{--log-level} takes, least severe first.
LEVELS = ("debug", "info", "warn", "error", "critical")


def parseLevel(name: str) -> LogLevel:
    """
    The L{LogLevel} named C{name} (C{warning} is C{warn}).

    @raise ValueError: for a name not in L{LEVELS}.
    """
    name = name.lower()
    if name == "warning":
        name = "warn"
    if name not in LEVELS:
        raise ValueError("--log-level must be one of %s, not %r"
                         % (", ".join(LEVELS), name))
    return LogLevel.levelWithName(name)


def levelFilter(observer: ILogObserver, level: LogLevel) -> ILogObserver:
    """
    C{observer}, given only the events of C{level} and above.
    """
    return FilteringLogObserver(
        observer, [LogLevelFilterPredicate(defaultLogLevel=level)])


class TwistdLog:
    """
    The log observer factory twistd's C{logger} option names (L{NAME}):
    called by twistd as it starts logging, it makes the observer twistd
    would have made from its own options (the log file with its rotation,
    standard output, or syslog) and puts L{levelFilter} in front of it.

    @ivar options: twistd's options, set by L{use}.
    @ivar level: the least severe level logged.
    @ivar runner: the application runner class whose C{loggerFactory}
        makes twistd's observer; twistd's for this platform if L{None}.
    """

    def __init__(self, runner=None):
        self.options = None
        self.level = LogLevel.info
        self.runner = runner

    def use(self, twistdOptions, level: LogLevel) -> str:
        """
        Filter the log of the twistd run by C{twistdOptions} at C{level}.

        @return: the name to give twistd's C{logger} option.
        """
        self.options = twistdOptions
        self.level = level
        return NAME

    def __call__(self) -> ILogObserver:
        """
        twistd's usual log observer, filtered.
        """
        runner = self.runner
        if runner is None:
            from twisted.scripts.twistd import _SomeApplicationRunner
            runner = _SomeApplicationRunner
        observer = runner.loggerFactory(self.options)._getLogObserver()
        return levelFilter(observer, self.level)


#: The one L{TwistdLog} of this process, and its name for twistd.
TWISTD = TwistdLog()
NAME = __name__ + ".TWISTD"


class RepeatLimiter:
    """
    Logs the first L{burst} warnings of each kind, then counts the others
    and logs how many there were: every L{interval} seconds while they
    keep coming, and at L{flush} (when the client goes).

    @ivar burst: warnings of one kind logged before they are counted.
    @ivar interval: the most seconds a count waits to be logged.
    @ivar kinds: the most kinds remembered (the oldest is flushed and
        forgotten beyond), so that a limiter keyed by, say, peer address
        stays small.
    """

    def __init__(self, log, clock, prefix: str = "", burst: int = 5,
                 interval: float = 60.0, kinds: int = 1000, **context):
        """
        @param log: the L{twisted.logger.Logger} to warn on.
        @param clock: an L{IReactorTime}.
        @param prefix: put before every format, e.g. C{"client {client}: "}
            with C{client} among C{context}.
        @param context: fields of every event.
        """
        self._log = log
        self._clock = clock
        self._prefix = prefix
        self._context = context
        self.burst = burst
        self.interval = interval
        self.kinds = kinds
        # kind -> [logged, counted since the last count logged, since when]
        self._seen: Dict[str, List] = OrderedDict()

    def warn(self, kind: str, format: str, **fields) -> None:
        """
        Log a warning of C{kind} (a few words saying what it is, shown with
        the count), or count it.
        """
        entry = self._seen.get(kind)
        if entry is None:
            while len(self._seen) >= self.kinds:
                oldest, old = self._seen.popitem(last=False)
                self._tell(oldest, old)
            entry = self._seen[kind] = [0, 0, 0.0]
        if entry[0] < self.burst:
            entry[0] += 1
            fields.update(self._context)
            if entry[0] == self.burst:
                format += " (more %s will be counted, not logged)" % (kind,)
            self._log.warn(self._prefix + format, **fields)
            return
        now = self._clock.seconds()
        if entry[1] == 0:
            entry[2] = now
        entry[1] += 1
        if now - entry[2] >= self.interval:
            self._tell(kind, entry)

    def _tell(self, kind: str, entry: List) -> None:
        if entry[1]:
            seconds = self._clock.seconds() - entry[2]
            self._log.warn(self._prefix + "{count} more {kind} in the last "
                           "{seconds:.0f}s", count=entry[1], kind=kind,
                           seconds=seconds, **self._context)
            entry[1] = 0

    def flush(self) -> None:
        """
        Log the counts not logged yet.
        """
        for kind, entry in list(self._seen.items()):
            self._tell(kind, entry)
