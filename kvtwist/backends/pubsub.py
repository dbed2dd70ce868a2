# -*- test-case-name: kvtwist.test.test_pubsub -*-
"""
The memory backend's pub/sub hub: who listens to which channel and
pattern, and the delivery of what is published.

Channels are global (not per database), as in Redis.  A client is known by
its L{kvtwist.commands.ClientState}: the hub keeps its subscriptions there
(L{Subscriptions}, C{client.pubsub}) and delivers messages through the
C{client.push} its connection set, which puts them in the client's output
in order with its replies (and bounds how much a slow client may hold: see
L{kvtwist.protocol.connection}).  Publishing never waits for a
subscriber.

Patterns are Redis's globs (L{kvtwist.glob}: linear, whatever the
pattern); each is compiled once, while anyone subscribes to it.
"""

from typing import Dict, Iterable, List, Optional, Tuple

from kvtwist.glob import Glob
from kvtwist.replies import Push, Pushes


class Subscriptions:
    """
    One client's subscriptions, in the order it made them.

    @ivar channels: the channels, as the keys of a dict.
    @ivar patterns: the patterns, as the keys of a dict.
    """

    __slots__ = ("channels", "patterns")

    def __init__(self):
        self.channels: Dict[bytes, None] = {}
        self.patterns: Dict[bytes, None] = {}

    def __len__(self) -> int:
        """
        How many channels and patterns (a subscribed client's count, and
        its truth).
        """
        return len(self.channels) + len(self.patterns)


class _Pattern:
    """
    A pattern someone subscribes to: its glob and its subscribers.
    """

    __slots__ = ("glob", "clients")

    def __init__(self, pattern: bytes):
        self.glob = Glob(pattern)
        self.clients: Dict[object, None] = {}

    def match(self, channel: bytes) -> bool:
        if not channel:
            # Redis's matcher: only stars match the empty channel.
            return not self.glob.pattern.replace(b"*", b"")
        return self.glob.match(channel)


def _mine(client) -> Subscriptions:
    subs = client.pubsub
    if subs is None:
        subs = client.pubsub = Subscriptions()
    return subs


class Hub:
    """
    The channels and patterns of one server, and their subscribers.
    """

    def __init__(self):
        self._channels: Dict[bytes, Dict[object, None]] = {}
        self._patterns: Dict[bytes, _Pattern] = {}
        self.clients = 0

    # -- subscribing ------------------------------------------------------

    def _counted(self, client, before: int) -> None:
        """
        Keep L{clients}, the count of subscribed clients, as C{client}'s
        subscriptions went from C{before} to now.
        """
        now = len(client.pubsub)
        if before and not now:
            self.clients -= 1
        elif now and not before:
            self.clients += 1

    def subscribe(self, client, channels: Iterable[bytes]) -> Pushes:
        """
        Subscribe C{client} to C{channels}.

        @return: the acknowledgement: a C{subscribe} frame per channel
            with the client's count of subscriptions after it.
        """
        subs = _mine(client)
        before = len(subs)
        frames = Pushes()
        for channel in channels:
            if channel not in subs.channels:
                subs.channels[channel] = None
                self._channels.setdefault(channel, {})[client] = None
            frames.append(Push([b"subscribe", channel, len(subs)]))
        self._counted(client, before)
        return frames

    def unsubscribe(self, client, channels: List[bytes]) -> Pushes:
        """
        Unsubscribe C{client} from C{channels}, or from every channel if
        none are given.

        @return: an C{unsubscribe} frame per channel; with no channels and
            none subscribed, one with a null channel.
        """
        subs = _mine(client)
        before = len(subs)
        if not channels:
            channels = list(subs.channels)
            if not channels:
                return Pushes([Push([b"unsubscribe", None, len(subs)])])
        frames = Pushes()
        for channel in channels:
            if channel in subs.channels:
                del subs.channels[channel]
                clients = self._channels[channel]
                del clients[client]
                if not clients:
                    del self._channels[channel]
            frames.append(Push([b"unsubscribe", channel, len(subs)]))
        self._counted(client, before)
        return frames

    def psubscribe(self, client, patterns: Iterable[bytes]) -> Pushes:
        """
        Subscribe C{client} to the channels matching C{patterns}.
        """
        subs = _mine(client)
        before = len(subs)
        frames = Pushes()
        for pattern in patterns:
            if pattern not in subs.patterns:
                subs.patterns[pattern] = None
                known = self._patterns.get(pattern)
                if known is None:
                    known = self._patterns[pattern] = _Pattern(pattern)
                known.clients[client] = None
            frames.append(Push([b"psubscribe", pattern, len(subs)]))
        self._counted(client, before)
        return frames

    def punsubscribe(self, client, patterns: List[bytes]) -> Pushes:
        """
        Unsubscribe C{client} from C{patterns}, or from every pattern if
        none are given.
        """
        subs = _mine(client)
        before = len(subs)
        if not patterns:
            patterns = list(subs.patterns)
            if not patterns:
                return Pushes([Push([b"punsubscribe", None, len(subs)])])
        frames = Pushes()
        for pattern in patterns:
            if pattern in subs.patterns:
                del subs.patterns[pattern]
                known = self._patterns[pattern]
                del known.clients[client]
                if not known.clients:
                    del self._patterns[pattern]
            frames.append(Push([b"punsubscribe", pattern, len(subs)]))
        self._counted(client, before)
        return frames

    def forget(self, client) -> None:
        """
        C{client} is gone, or reset: it subscribes to nothing any more.
        """
        if client.pubsub:
            self.unsubscribe(client, [])
            self.punsubscribe(client, [])

    # -- publishing -------------------------------------------------------

    def publish(self, channel: bytes, message: bytes) -> int:
        """
        Deliver C{message} to C{channel}'s subscribers, then to those of
        the patterns it matches (a client subscribed both ways gets it
        twice, as in Redis).

        @return: how many deliveries.
        """
        count = 0
        clients = self._channels.get(channel)
        if clients:
            push = Push([b"message", channel, message])
            targets = list(clients)
            for client in targets:
                client.push(push)
            count = len(targets)
        for pattern, known in list(self._patterns.items()):
            if known.match(channel):
                push = Push([b"pmessage", pattern, channel, message])
                for client in list(known.clients):
                    client.push(push)
                    count += 1
        return count

    # -- PUBSUB -----------------------------------------------------------

    def channels(self, pattern: Optional[bytes] = None) -> List[bytes]:
        """
        The channels with at least one subscriber (matching C{pattern}).
        """
        if pattern is None:
            return list(self._channels)
        glob = _Pattern(pattern)
        return [c for c in self._channels if glob.match(c)]

    def numsub(self, channels: List[bytes]) -> List[Tuple[bytes, int]]:
        """
        Each channel's number of subscribers (patterns not counted).
        """
        return [(c, len(self._channels.get(c, ()))) for c in channels]

    def numpat(self) -> int:
        """
        How many patterns have subscribers.
        """
        return len(self._patterns)
