# -*- test-case-name: kvtwist.test.test_web -*-
"""
A ring buffer of samples of the server's figures (from its stats snapshot,
L{kvtwist.stats.takeSnapshot}), taken every few seconds by a
L{LoopingCall}, for the status page's charts and its rates per second.
"""

from collections import deque
from typing import Dict, List, Optional

from twisted.application.service import Service
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from kvtwist.stats import takeSnapshot


class Sample:
    """
    The server's figures at one moment.

    @ivar time: the factory clock's time, in seconds.
    @ivar connected: connected clients.
    @ivar dropped: client connections ended since start, whatever the
        cause.
    @ivar closedByServer: of those, the ones the server closed.
    @ivar commands: commands processed since start.
    @ivar memory: the process's resident memory, in bytes.
    """

    __slots__ = ("time", "connected", "dropped", "closedByServer",
                 "commands", "memory")

    def __init__(self, time: float, connected: int, dropped: int,
                 commands: int, closedByServer: int = 0, memory: int = 0):
        self.time = time
        self.connected = connected
        self.dropped = dropped
        self.closedByServer = closedByServer
        self.commands = commands
        self.memory = memory


class Sampler:
    """
    Keeps the last C{size} samples of a L{kvtwist.factory.KVFactory}.

    @ivar samples: the samples, oldest first.
    @ivar interval: the seconds between samples, as shown to people.
    """

    def __init__(self, factory, size: int = 150, interval: float = 2.0):
        """
        @param factory: the L{kvtwist.factory.KVFactory} to sample.
        @param size: how many samples to keep.
        @param interval: the seconds between samples.
        """
        self._factory = factory
        self.interval = interval
        self.samples: deque = deque(maxlen=size)

    @property
    def window(self) -> float:
        """
        The seconds of history the buffer holds when full.
        """
        return (self.samples.maxlen or 0) * self.interval

    def sample(self) -> Sample:
        """
        Take one sample now and keep it.
        """
        snap = takeSnapshot(self._factory)
        clients = snap.clients
        s = Sample(snap.time, clients.connected, clients.dropped,
                   snap.commands.processed, clients.closedByServer,
                   snap.memory.rss)
        self.samples.append(s)
        return s

    def commandsPerSecond(self) -> float:
        """
        Commands per second between the last two samples (0 before two).
        """
        return self._lastRate("commands")

    def disconnectsPerSecond(self) -> float:
        """
        Client disconnections per second (whoever ended them) between the
        last two samples (0 before two).
        """
        return self._lastRate("dropped")

    def _lastRate(self, field: str) -> float:
        if len(self.samples) < 2:
            return 0.0
        return _rate(self.samples[-2], self.samples[-1], field)

    def history(self) -> List[Dict[str, float]]:
        """
        The samples as JSON-ready dicts, oldest first: C{time},
        C{connected}, C{dropped} (cumulative) and C{droppedDelta} (since
        the previous sample), C{disconnectsPerSecond}, C{closedByServer}
        (cumulative) and C{closedByServerDelta}, C{commandsPerSecond} and
        C{memory} (resident, in bytes).
        """
        out = []
        previous: Optional[Sample] = None
        for s in self.samples:
            first = previous is None
            out.append({
                "time": s.time,
                "connected": s.connected,
                "dropped": s.dropped,
                "droppedDelta": 0 if first else s.dropped - previous.dropped,
                "disconnectsPerSecond": 0.0 if first else
                _rate(previous, s, "dropped"),
                "closedByServer": s.closedByServer,
                "closedByServerDelta": 0 if first else
                s.closedByServer - previous.closedByServer,
                "commandsPerSecond": 0.0 if first else
                _rate(previous, s, "commands"),
                "memory": s.memory,
            })
            previous = s
        return out


def _rate(a: Sample, b: Sample, field: str) -> float:
    elapsed = b.time - a.time
    if elapsed <= 0:
        return 0.0
    return round((getattr(b, field) - getattr(a, field)) / elapsed, 2)


class SamplerService(Service):
    """
    Runs L{Sampler.sample} every C{interval} seconds while running, in the
    manner of L{twisted.application.internet.TimerService}: the clock is
    injectable and a failing sample is logged without stopping the loop.
    """

    _log = Logger()

    def __init__(self, sampler: Sampler, clock=None):
        """
        @param sampler: the L{Sampler}; its C{interval} is the period.
        @param clock: an L{IReactorTime}; the global reactor if not given.
        """
        self.sampler = sampler
        self.clock = clock
        self._loop: Optional[LoopingCall] = None

    def _tick(self):
        try:
            self.sampler.sample()
        except Exception:
            self._log.failure("taking a status sample failed")

    def startService(self):
        """
        Start sampling, one sample at once.
        """
        Service.startService(self)
        clock = self.clock
        if clock is None:
            from twisted.internet import reactor as clock
        self._loop = LoopingCall(self._tick)
        self._loop.clock = clock
        self._loop.start(self.sampler.interval, now=True)

    def stopService(self):
        """
        Stop sampling.
        """
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        return Service.stopService(self)
