# -*- test-case-name: kvtwist.test.test_store -*-
"""
The seams of kvtwist, as L{zope.interface} interfaces.
"""

from twisted.internet.defer import Deferred
from zope.interface import Attribute, Interface


class IStore(Interface):
    """
    A key-value store of strings and lists with expiry: one database of a
    set (database 0 holds the others, C{store.databases}).

    A data structure: every method answers at once, with the documented
    result, or raises (L{kvtwist.store.WrongType} and friends).  Command
    handlers use results as plain values.  What may answer later is a
    whole command, behind L{IBackend}: a backend over another engine
    runs commands there, not store methods.
    """

    journal = Attribute("Callable receiving each mutation op of every "
                        "database, or None.")
    expiredCount = Attribute("Keys expired since start, in every database.")
    index = Attribute("This database's number.")
    owner = Attribute("Database 0, which holds the set.")
    databases = Attribute("Every database, by number.")

    def now():
        """The store's clock, in milliseconds since the epoch."""

    def size():
        """The number of keys."""

    def exists(key):
        """Whether C{key} holds a live value."""

    def typeOf(key):
        """C{"string"}, C{"list"} or C{"none"}."""

    def delete(key):
        """Remove C{key}; whether it existed."""

    def flush():
        """Remove every key of this database (C{FLUSHDB})."""

    def database(index):
        """Database number C{index} (an L{IStore}); L{IndexError}."""

    def flushAll():
        """Remove every key of every database (C{FLUSHALL})."""

    def swapDatabases(a, b):
        """Swap the contents of two databases (C{SWAPDB})."""

    def keyCount():
        """The number of keys in every database."""

    def figures():
        """
        C{(number, keys, expiring keys, average TTL ms)} of each
        non-empty database (C{INFO keyspace}).
        """

    def addChangeListener(listener):
        """
        Call C{listener(database, keys)} after each change of this
        database (C{keys}: the keys changed, or L{None} for all).
        """

    def removeChangeListener(listener):
        """Stop calling C{listener}."""

    def keys(pattern):
        """Every live key matching a glob pattern."""

    def scan(cursor, pattern, count, typeName=None):
        """
        C{(nextCursor, keys)}: one step of an incremental iteration (only
        keys of Redis's type C{typeName}, if given).
        """

    def randomKey():
        """A live key picked at random, or L{None}."""

    def valueOf(key):
        """The live value of C{key}, of any type, or L{None}."""

    def encodingOf(value):
        """Redis's C{OBJECT ENCODING} name for a value."""

    def keysTask(pattern):
        """
        L{keys} as a task: a snapshot taken now and a function of no
        arguments listing its matching keys, which may run on another
        thread while the store changes (O(store) work off the reactor).
        """

    def contentsTask():
        """
        L{contents} as a task, as L{keysTask}.
        """

    def items():
        """Every live C{(key, value)} pair."""

    def contents():
        """A new dict of every live key to its value (lists as lists)."""

    def rename(src, dst, onlyNew=False):
        """
        Rename C{src} to C{dst} (unless C{onlyNew} and it exists);
        whether it was renamed.
        """

    def copyTo(src, target, dst, replace=False):
        """
        Copy C{src}'s value and expiry to C{dst} in database C{target};
        whether it was copied.
        """

    def moveTo(key, target):
        """Move C{key} to database C{target}; whether it moved."""

    def expireAt(key, whenMs):
        """Set an absolute expiry; whether the key existed."""

    def persist(key):
        """Remove an expiry; whether there was one."""

    def ttlMs(key):
        """Milliseconds to live, -1 without expiry, -2 if missing."""

    def expiresAt(key):
        """The absolute expiry time in milliseconds, or L{None}."""

    def get(key):
        """The string value of C{key} or L{None}."""

    def set(key, value, expireAtMs=None, keepTTL=False):
        """Set a string value."""

    def incrBy(key, delta):
        """Add to an integer value; the new value."""

    def append(key, value):
        """Append to a string; the new length."""

    def setKeepTTL(key, value):
        """Set a string value, keeping the key's expiry."""

    def setRange(key, offset, value):
        """Overwrite part of a string; the new length."""

    def setBit(key, offset, bit):
        """Set or clear one bit of a string; its old value."""

    def push(key, values, left=False, onlyIfExists=False):
        """Push to a list; the new length."""

    def pop(key, count=1, left=True):
        """Pop from a list; a list of values or L{None}."""

    def lrange(key, start, stop):
        """A slice of a list."""

    def llen(key):
        """The length of a list."""

    def lindex(key, index):
        """One element of a list or L{None}."""

    def lset(key, index, value):
        """Set one element of a list."""

    def lrem(key, count, value):
        """Remove elements equal to C{value}; how many."""

    def lreplace(key, old, new):
        """Replace elements equal to C{old}; how many."""

    def lmove(src, dst, fromLeft, toLeft):
        """Move an element between list ends; it, or L{None}."""

    def linsert(key, before, pivot, value):
        """Insert next to C{pivot}; the new length, -1 or 0."""

    def ltrim(key, start, stop):
        """Keep a range of a list."""

    def lpos(key, value, rank=1, count=None, maxlen=0):
        """The index (or indexes, with C{count}) of matching elements."""

    def sweep(limit):
        """Actively expire up to C{limit} keys; how many."""

    def apply(op):
        """Replay one journaled op."""


class Backpressure(Deferred):
    """
    A reply that comes later, and until it does, the client must wait: the
    caller (a connection) runs no more of that client's requests, and
    leaves its input unread, until this Deferred fires.

    The memory backend gives one for a write while the log is far behind
    the clients (a big value being written, a disk slower than the
    clients): writers are slowed down, never refused, and what the server
    holds for the log stays bounded.
    """


class IBackend(Interface):
    """
    Where requests become effects: runs whole commands.

    Dialects turn requests into C{(name, args)}; whoever runs commands (a
    connection, the web interface) calls L{execute} and never a handler or
    the store.  The default backend (L{kvtwist.backends.memory}) runs the
    command table over the in-process store and its journal; another one
    (a front end over Redis Cluster, say) can run every command without
    the protocol or the dialects knowing.

    Blocking commands and pushed messages, for any backend:

        - a Deferred reply to a command the table flags C{blocking}
          (C{BLPOP}...) blocks its client: the connection runs none of
          that client's later requests until it fires, and the client is
          neither stalled nor idle meanwhile;
        - messages for a client (pub/sub) go to C{ctx.client.push(message)}
          with a L{kvtwist.replies.Push}, which its connection renders and
          sends in order with its replies (the attribute is L{None} where
          no connection can show them); while C{ctx.client.pubsub} (a
          L{kvtwist.backends.pubsub.Subscriptions}, or anything whose
          length counts the client's channels and patterns) is non-empty,
          a RESP2 connection is in Redis's subscribed mode
          (L{kvtwist.protocol.subscribed}), and the client is not idle.
    """

    def execute(ctx, name, args):
        """
        Run one command.

        @param ctx: the calling client's L{kvtwist.commands.Context}.
        @param name: the command name as sent (L{bytes}, any case).
        @param args: the arguments (L{list} of L{bytes}), without the name.
        @return: a neutral reply (L{kvtwist.replies}), or a
            L{twisted.internet.defer.Deferred} that fires with one, or a
            L{kvtwist.replies.Later} (the same, cheaper; never for a
            blocking command, never L{kvtwist.replies.NO_REPLY}).  It
            never raises and the Deferred never fails: every problem is an
            error reply.  Callers keep replies in request order whatever
            fires first.  A L{Backpressure} Deferred also asks the caller
            to run no more of that client's requests until it fires.
        """

    def clientDisconnected(ctx):
        """
        The client of C{ctx} is gone (its connection ended): let go what
        it held (a blocking command, a watch, a subscription).  Replies
        still owed to it are dropped by the caller.

        @param ctx: the departed client's L{kvtwist.commands.Context}.
        """

    def endTurn():
        """
        The caller has run the requests it had for now (a connection calls
        this once after running the requests of one read).  A backend may
        finish batched work here (the memory backend seals the journal's
        pending ops into a log record); nothing may depend on it being
        called for a reply to come.
        """
