# -*- test-case-name: kvtwist.test.test_web -*-
"""
A ring buffer of samples of the server's counters, taken every few seconds
by a L{LoopingCall}, for the status page's chart and commands per second.
"""

from collections import deque
from typing import Dict, List, Optional

from twisted.application.service import Service
from twisted.internet.task import LoopingCall
from twisted.logger import Logger


class Sample:
    """
    The server's counters at one moment.

    @ivar time: the factory clock's time, in seconds.
    @ivar connected: connected clients.
    @ivar dropped: client connections ended since start.
    @ivar commands: commands processed since start.
    """

    __slots__ = ("time", "connected", "dropped", "commands")

    def __init__(self, time: float, connected: int, dropped: int,
                 commands: int):
        self.time = time
        self.connected = connected
        self.dropped = dropped
        self.commands = commands


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
        factory = self._factory
        s = Sample(factory.now(), factory.countActive(),
                   factory.countDropped(), factory.stats.commandsProcessed)
        self.samples.append(s)
        return s

    def commandsPerSecond(self) -> float:
        """
        Commands per second between the last two samples (0 before two).
        """
        if len(self.samples) < 2:
            return 0.0
        return _rate(self.samples[-2], self.samples[-1])

    def history(self) -> List[Dict[str, float]]:
        """
        The samples as JSON-ready dicts, oldest first: C{time},
        C{connected}, C{dropped} (cumulative), C{droppedDelta} (since the
        previous sample) and C{commandsPerSecond}.
        """
        out = []
        previous: Optional[Sample] = None
        for s in self.samples:
            out.append({
                "time": s.time,
                "connected": s.connected,
                "dropped": s.dropped,
                "droppedDelta": (s.dropped - previous.dropped
                                 if previous is not None else 0),
                "commandsPerSecond": (_rate(previous, s)
                                      if previous is not None else 0.0),
            })
            previous = s
        return out


def _rate(a: Sample, b: Sample) -> float:
    elapsed = b.time - a.time
    if elapsed <= 0:
        return 0.0
    return round((b.commands - a.commands) / elapsed, 2)


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
