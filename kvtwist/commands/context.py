# -*- test-case-name: kvtwist.test.test_commands -*-
"""
What a command handler runs with: the calling client's state and the
server's parts (L{Context}).
"""


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
    @ivar blocked: whether it waits on a blocking command (C{BLPOP}...):
        its later requests wait behind it (set by its connection).
    @ivar pubsub: its subscriptions (a
        L{kvtwist.backends.pubsub.Subscriptions}, whose length is the
        number of channels and patterns), or L{None} if it never
        subscribed.
    @ivar push: C{push(message)}, where messages pushed to this client
        (a L{kvtwist.replies.Push}) go, in order with its replies; set by
        a connection that can show them, else L{None}.
    """

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
        self.closeAfterReply = False
        self.db = 0
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
