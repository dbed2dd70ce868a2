# -*- test-case-name: kvtwist.test.test_commands -*-
"""
What a command handler runs with: the calling client's state and the
server's parts (L{Context}).
"""


from typing import NamedTuple


class ConnectionFigures(NamedTuple):
    """
    What a connection tells of its socket and buffers (C{CLIENT LIST}).

    @ivar laddr: the local address it was accepted on, C{host:port}.
    @ivar fd: its socket's file descriptor (-1 if none).
    @ivar qbuf: bytes received and not run yet.
    @ivar obl: bytes of replies ready and not yet handed to the socket.
    @ivar oll: replies waiting their turn behind one not ready.
    @ivar omem: bytes handed to the transport and not yet sent.
    """

    laddr: str
    fd: int
    qbuf: int
    obl: int
    oll: int
    omem: int


class ClientState:
    """
    What the server knows of one connection.

    @ivar id: a unique number.
    @ivar name: set by C{CLIENT SETNAME}.
    @ivar protover: 2 or 3 (RESP version, after C{HELLO}).
    @ivar authenticated: whether it may run commands.
    @ivar dialect: the name of the dialect it last used.
    @ivar commands: how many commands it ran.
    @ivar created: when it connected, in seconds.
    @ivar lastActive: when it last sent something, in seconds.
    @ivar lastCommand: the name of the last command it sent.
    @ivar closeAfterReply: set by C{QUIT}: close once its reply is sent.
    @ivar db: the number of its selected database (C{SELECT}).
    @ivar replyMode: L{None} while its replies are sent, C{"off"} after
        C{CLIENT REPLY OFF}, C{"skip"} after C{CLIENT REPLY SKIP} (the
        next command's reply is not sent).
    @ivar afterReply: whether the connection must look at this state once
        the current command's reply is queued (L{closeAfterReply} or
        L{replyMode} changed, or an C{EXEC} changed whether it subscribes
        to anything): one attribute the connection checks per command,
        whatever the reason.
    @ivar noEvict: set by C{CLIENT NO-EVICT ON} (kvtwist never evicts
        clients: shown in C{CLIENT LIST}'s flags).
    @ivar noTouch: set by C{CLIENT NO-TOUCH ON} (kvtwist keeps no access
        times: shown in the flags).
    @ivar libName: set by C{CLIENT SETINFO LIB-NAME}.
    @ivar libVersion: set by C{CLIENT SETINFO LIB-VER}.
    @ivar blocked: whether it waits on a blocking command (C{BLPOP}...):
        its later requests wait behind it (set by its connection).
    @ivar pubsub: its subscriptions (a
        L{kvtwist.backends.pubsub.Subscriptions}, whose length is the
        number of channels and patterns), or L{None} if it never
        subscribed.
    @ivar push: C{push(message)}, where messages pushed to this client
        (a L{kvtwist.replies.Push}) go, in order with its replies; set by
        a connection that can show them, else L{None}.
    @ivar transaction: its L{kvtwist.commands.transactions.Transaction}
        between C{MULTI} and C{EXEC} or C{DISCARD} (its commands are
        queued meanwhile), else L{None}.
    @ivar executing: the L{kvtwist.commands.transactions.Transaction}
        whose commands its C{EXEC} is running, else L{None}.
    @ivar watching: its L{kvtwist.store.watches.Watch} (the keys it
        C{WATCH}es) while it watches any, else L{None}.
    @ivar atomic: while an C{EXEC} or a script of this client runs, the
        L{kvtwist.backends.atomic.AtomicRun} running it, else L{None}.
        Commands run by it must answer at once: a blocking command
        answers as if its timeout had passed (as Redis does inside
        C{MULTI}), and C{BGSAVE} is scheduled to start after it
        (C{AtomicRun.later}).
    """

    afterReply = False
    replyMode = None
    noEvict = False
    noTouch = False
    libName = b""
    libVersion = b""
    _closeAfterReply = False

    @property
    def closeAfterReply(self) -> bool:
        """
        Whether to close once the reply is sent (C{QUIT}).
        """
        return self._closeAfterReply

    @closeAfterReply.setter
    def closeAfterReply(self, value: bool):
        self._closeAfterReply = value
        if value:
            self.afterReply = True

    def setReplyMode(self, mode):
        """
        C{CLIENT REPLY}: L{None} (on), C{"off"} or C{"skip"}.
        """
        self.replyMode = mode
        self.afterReply = True

    def __init__(self, id: int = 0, addr: str = "", now: float = 0.0,
                 authenticated: bool = True):
        self.id = id
        self.addr = addr
        self.name = b""
        self.protover = 2
        self.authenticated = authenticated
        self.dialect = "text"
        self.commands = 0
        self.created = now
        self.lastActive = now
        self.lastCommand = b""
        self._closeAfterReply = False
        self.db = 0
        self.transaction = None
        self.executing = None
        self.watching = None
        self.atomic = None
        self.afterReply = False
        self.replyMode = None
        self.blocked = False
        self.pubsub = None
        self.push = None


class Context:
    """
    Everything a handler may use.

    @ivar store: the L{kvtwist.interfaces.IStore}: the client's selected
        database (C{SELECT} changes it), or L{None} where no store is kept
        (a backend that is a front end to another server).
    @ivar factory: the server's factory (L{kvtwist.factory.KVFactory}: its
        config, stats and clients), or L{None} in tests of bare commands.
    @ivar service: the L{kvtwist.persist.StoreService}, or L{None}.
    @ivar client: this connection's L{ClientState}.
    """

    __slots__ = ("store", "factory", "service", "client")

    def __init__(self, store, factory=None, service=None, client=None):
        self.store = store
        self.factory = factory
        self.service = service
        self.client = client if client is not None else ClientState()

    @property
    def server(self):
        """
        The factory, under its former name: use L{factory}.
        """
        return self.factory
