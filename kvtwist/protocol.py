# -*- test-case-name: kvtwist.test.test_protocol -*-
"""
The server protocol: framing, per-line dialect detection, ordered replies,
backpressure.

Every connection speaks all dialects on the one port.  A line starting with
C{*} begins a RESP multibulk request; any other line is handed to the line
dialect L{kvtwist.dialects.detect} picks.  Replies go out in request order,
even when one of them is a Deferred (C{--fsync always}): later replies wait
behind it.
"""

from collections import deque

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from zope.interface import implementer
from twisted.internet.interfaces import IPushProducer

from kvtwist import commands, dialects
from kvtwist.dialects import resp
from kvtwist.replies import Error, Status

TOO_BIG_INLINE = Error("ERR Protocol error: too big inline request")

#: Until a client has authenticated, far smaller requests are accepted (as
#: Redis does): a stranger can't make the server buffer much.
PREAUTH_MAX_INLINE = 16 * 1024
PREAUTH_MAX_BULK = 16 * 1024
PREAUTH_MAX_MULTIBULK = 10


#: Replies with more elements than this (a list or dict) are rendered off
#: the reactor thread when the factory has a C{runInThread}: C{KEYS *} or
#: C{PRINT} on a big store would otherwise stall every client.
LARGE_REPLY = 10000


def _isLarge(reply) -> bool:
    t = reply.__class__
    return (t is list or t is dict) and len(reply) > LARGE_REPLY


def _eagerWrites(transport) -> bool:
    """
    Whether replies may be sent straight to C{transport}'s socket when its
    buffer is empty: only for plain TCP and UNIX server connections, whose
    buffering we know.
    """
    from twisted.internet import tcp
    kinds = [tcp.Server]
    try:
        from twisted.internet import unix
        kinds.append(unix.Server)
    except ImportError:  # pragma: no cover - platforms without UNIX sockets
        pass
    return type(transport) in kinds and hasattr(transport, "socket")


#: Seconds of silence before TCP keepalive probes start, as Redis's
#: C{tcp-keepalive} default; then a probe every third of that, and the
#: connection is dropped after 3 unanswered.
KEEPALIVE = 300


def _tuneTCP(transport, keepalive: int = KEEPALIVE):
    """
    Set what Redis sets on a client's TCP socket: C{TCP_NODELAY}, so a
    reply is never held back until the one before is acknowledged
    (Nagle's algorithm, which can add the peer's delayed ACK, up to 40 ms,
    to a reply), and keepalive probes after C{keepalive} seconds of
    silence, so a peer that vanished without closing (a crashed host, a
    cut network) is noticed and its connection freed.  TLS connections are
    tuned through their TCP transport; other transports (UNIX sockets,
    tests) are left as they are.
    """
    import socket
    try:
        transport.setTcpNoDelay(True)
        transport.setTcpKeepAlive(True)
        sock = transport.getHandle()
        for name, value in (("TCP_KEEPIDLE", keepalive),
                            ("TCP_KEEPINTVL", max(1, keepalive // 3)),
                            ("TCP_KEEPCNT", 3)):
            option = getattr(socket, name, None)
            if option is not None:
                sock.setsockopt(socket.IPPROTO_TCP, option, value)
    except (AttributeError, OSError, NotImplementedError):
        pass


@implementer(IPushProducer)
class KVProtocol(LineReceiver):
    """
    One client connection.

    It subclasses L{LineReceiver} for its line limit and delimiter but does
    its own framing in L{dataReceived}, since a single buffer carries lines
    and binary RESP requests interleaved and must be parsed in one pass.

    @ivar state: this client's L{kvtwist.commands.ClientState}.
    @ivar ctx: the L{kvtwist.commands.Context} handlers get.
    """

    _log = Logger()

    #: The longest text line (Redis's inline limit is 64 KiB).
    MAX_LENGTH = 64 * 1024
    delimiter = b"\n"

    factory = None
    state = None
    ctx = None

    def __init__(self):
        self._chunks = []
        self._have = 0
        self._need = 0
        self._queue = deque()
        self._out = None
        self._closing = False
        self._writePaused = False
        self._readPaused = False
        self._unterminatedCall = None
        self.disconnectReason = None
        self.stalledSince = None
        self._eager = False
        self._unsent = []
        # Replies still being computed or rendered elsewhere that stop
        # this client's reading (see _emitLater); set by abort().
        self._heavy = 0
        self._aborted = False

    # -- connection ---------------------------------------------------------

    def connectionMade(self):
        factory = self.factory
        self.state, self.ctx, refusal = factory.clientConnected(self)
        if refusal is not None:
            self._closing = True
            self.transport.write(resp.render(refusal))
            self.disconnectReason = "refused: " + refusal
            self.transport.loseConnection()
            return
        self.transport.registerProducer(self, True)
        _tuneTCP(self.transport)
        self._eager = _eagerWrites(self.transport)
        self._maxOutput = factory.config.maxOutputBuffer
        self._maxBulk = factory.config.maxBulk

    def connectionLost(self, reason):
        if self._unterminatedCall is not None and \
                self._unterminatedCall.active():
            self._unterminatedCall.cancel()
        self._unterminatedCall = None
        if self.factory is not None and self.state is not None:
            self.factory.clientDisconnected(self, reason)
        self._chunks = []
        self._queue.clear()
        self._unsent = []

    # -- producer: the transport tells us when its buffer is full/drained --

    def pauseProducing(self):
        """
        The transport's write buffer is full: stop running requests.
        """
        self._writePaused = True

    def resumeProducing(self):
        """
        The transport drained: run what is buffered, read again.
        """
        self._writePaused = False
        if self._readPaused and not self._closing and not self._heavy:
            self._readPaused = False
            self.stalledSince = None
            self.transport.resumeProducing()
            self.factory.clientResumed(self)
            self.dataReceived(b"")

    def _resumeIfDrained(self):
        """
        Go on reading, unless the replies held so far fill the transport
        (then it pauses us, and resumes us once drained) or a heavy reply
        is still on its way (then its arrival calls this again).
        """
        if self._closing or self._heavy:
            return
        self.sendUnsent()
        if not self._writePaused:
            self.resumeProducing()

    def stopProducing(self):
        """
        The transport is going away.
        """
        self._closing = True

    # -- input --------------------------------------------------------------

    def dataReceived(self, data: bytes):
        """
        Frame and run every complete request in the buffered input.
        """
        if self._closing:
            return
        factory = self.factory
        factory.stats.netInput += len(data)
        if self._chunks:
            if data:
                self._chunks.append(data)
                self._have += len(data)
            if self._have < self._need:
                return
            buf = b"".join(self._chunks)
            self._chunks = []
            self._have = 0
        else:
            buf = data
        if self._unterminatedCall is not None:
            if self._unterminatedCall.active():
                self._unterminatedCall.cancel()
            self._unterminatedCall = None
        self.state.lastActive = factory.now()
        self._out = out = []
        pos = 0
        n = len(buf)
        need = 0
        budget = self._maxOutput
        if self.state.authenticated:
            maxInline = self.MAX_LENGTH
            maxBulk = self._maxBulk
            maxMultibulk = resp.DEFAULT_MAX_MULTIBULK
        else:
            maxInline = PREAUTH_MAX_INLINE
            maxBulk = PREAUTH_MAX_BULK
            maxMultibulk = PREAUTH_MAX_MULTIBULK
        try:
            while pos < n:
                if self._closing:
                    return
                if self._writePaused or budget <= 0:
                    # Backpressure: leave the rest unread until drained.
                    self._readPaused = True
                    if self.stalledSince is None:
                        self.stalledSince = factory.now()
                    self.transport.pauseProducing()
                    factory.clientStalled(self)
                    break
                if buf[pos] == 42:  # b"*"
                    # Fast path: every well-formed request already whole in
                    # the buffer, split in one pass.  Anything unusual
                    # (partial, binary CR LF inside a value, bad framing)
                    # falls to the careful parser below.
                    batch = resp.parseMany(buf, pos, maxBulk, maxMultibulk)
                    if batch:
                        pos, budget = self._runResp(batch, pos, budget)
                        if self.state.authenticated:
                            maxInline = self.MAX_LENGTH
                            maxBulk = self._maxBulk
                            maxMultibulk = resp.DEFAULT_MAX_MULTIBULK
                        continue
                    try:
                        args, nxt = resp.parseCommand(
                            buf, pos, maxBulk, maxMultibulk)
                    except resp.ProtocolError as e:
                        self._protocolError(Error(str(e)))
                        return
                    if args is None:
                        need = nxt
                        break
                    pos = nxt
                    if not args:
                        continue
                    pos, budget = self._runResp([(args, nxt)], pos, budget)
                    if self.state.authenticated:
                        maxInline = self.MAX_LENGTH
                        maxBulk = self._maxBulk
                        maxMultibulk = resp.DEFAULT_MAX_MULTIBULK
                else:
                    eol = buf.find(b"\n", pos)
                    if eol < 0:
                        if n - pos > maxInline:
                            self._protocolError(TOO_BIG_INLINE)
                            return
                        need = n - pos + 1
                        break
                    if eol - pos > maxInline:
                        self._protocolError(TOO_BIG_INLINE)
                        return
                    line = buf[pos:eol]
                    pos = eol + 1
                    if line.endswith(b"\r"):
                        line = line[:-1]
                    budget -= self._runLine(line)
                    if not self.state.authenticated:
                        continue
                    # AUTH may have just succeeded: lift the small caps.
                    maxInline = self.MAX_LENGTH
                    maxBulk = self._maxBulk
                    maxMultibulk = resp.DEFAULT_MAX_MULTIBULK
        finally:
            self._out = None
            if out:
                self._write(b"".join(out))
            factory.backend.endTurn()
        if self._readPaused and not self._writePaused:
            # The output budget ran out before the transport paused us:
            # look again on the next turn rather than waiting for a resume
            # that may not come.
            factory.clock.callLater(0, self._resumeIfDrained)
        if pos < n:
            rest = buf[pos:]
            self._chunks = [rest]
            self._have = len(rest)
            self._need = need
            if need and rest[:1] != b"*":
                self._scheduleUnterminated()

    def _scheduleUnterminated(self):
        delay = self.factory.config.unterminatedMs
        if delay:
            self._unterminatedCall = self.factory.clock.callLater(
                delay / 1000.0, self._runUnterminated)

    def _runUnterminated(self):
        """
        A text line stayed unterminated for C{--unterminated-ms}: run it as
        if it had ended (for seed clients that never send a line end).
        """
        self._unterminatedCall = None
        if not self._chunks or self._closing:
            return
        line = b"".join(self._chunks).rstrip(b"\r")
        self._chunks = []
        self._have = 0
        self._need = 0
        self._out = out = []
        try:
            self._runLine(line)
        finally:
            self._out = None
            if out:
                self._write(b"".join(out))
            self.factory.backend.endTurn()

    def lineReceived(self, line: bytes):
        """
        Run one line (L{LineReceiver}'s hook; also used by tests).
        """
        self._runLine(line)

    def _protocolError(self, error: Error):
        self._log.info("protocol error from {peer}: {error}",
                       peer=self.state.addr, error=error)
        self._emit(resp.render(error))
        self.disconnectReason = "protocol error"
        self._closeAfterOutput()

    # -- running requests ----------------------------------------------------

    def _runResp(self, batch, pos: int, budget: int):
        """
        Run parsed RESP requests, C{[(args, endPos), ...]}, in order; stop
        early if the connection closes or pauses, the output budget is
        spent, or authentication changes (the caps on what may be parsed
        change with it: the rest is parsed again).

        @return: C{(pos, budget)}: the end of the last request run and
            what is left of the output budget.
        """
        state = self.state
        state.dialect = "resp"
        authenticated = state.authenticated
        ctx = self.ctx
        execute = self.factory.backend.execute
        render = resp.render
        plain = commands.PLAIN_REPLIES
        out = self._out
        queue = self._queue
        statusLines = resp.STATUS_LINES
        for args, end in batch:
            if self._closing or self._writePaused or budget <= 0:
                break
            pos = end
            name = args[0]
            state.lastCommand = name
            reply = execute(ctx, name, args[1:])
            cls = reply.__class__
            # What render(reply, protover) gives, inlined for the replies
            # of GET and SET (a call costs as much as the rendering): a
            # bulk string, or a status line it has rendered before.  Then
            # plain and not _isLarge(reply), also inlined: this runs for
            # every request of a pipeline.
            if cls is bytes:
                data = b"$%d\r\n%s\r\n" % (len(reply), reply)
            elif cls is Status:
                data = statusLines.get(reply) or render(reply)
            elif cls in plain and not ((cls is list or cls is dict) and
                                       len(reply) > LARGE_REPLY):
                data = render(reply, state.protover)
            else:
                data = None
            if data is not None:
                if queue:
                    queue.append([True, data])
                else:
                    out.append(data)
                budget -= len(data)
            else:
                # A Deferred, or large: rendered later, maybe elsewhere,
                # in the protocol version of now.
                protover = state.protover
                if self._emitLater(name, reply,
                                   lambda r: render(r, protover)):
                    budget = 0
            if state.closeAfterReply:
                self._closeAfterOutput()
            if state.authenticated is not authenticated:
                break
        return pos, budget

    def _runLine(self, line: bytes) -> int:
        dialect = dialects.detect(line)
        state = self.state
        state.dialect = dialect.name
        request = dialect.parse(line)
        if request is None:
            return 0
        if type(request) is Error:
            data = dialect.render(None, request)
            self._emit(data)
            return len(data)
        state.lastCommand = request.name
        reply = self.factory.backend.execute(self.ctx, request.name,
                                             request.args)
        # Not plain (a Deferred), or large: isinstance(reply, Deferred)
        # costs more than the rest of this method.
        if reply.__class__ not in commands.PLAIN_REPLIES or _isLarge(reply):
            heavy = self._emitLater(request.name, reply,
                                    lambda r: dialect.render(request, r))
            size = self._maxOutput if heavy else 0
        else:
            data = dialect.render(request, reply)
            if data:
                self._emit(data)
            size = len(data)
        if state.closeAfterReply:
            self._closeAfterOutput()
        return size

    # -- output, in request order --------------------------------------------

    def _write(self, data: bytes):
        self.factory.stats.netOutput += len(data)
        if self._eager:
            # Held until the end of this reactor turn (see sendUnsent).
            unsent = self._unsent
            unsent.append(data)
            if len(unsent) == 1:
                self.factory.sendSoon(self)
            return
        self.transport.write(data)

    def sendUnsent(self):
        """
        Send the replies held back during this reactor turn: called by the
        factory once the turn's reads are all done, before the reactor
        waits for more (as Redis writes its replies before it sleeps), and
        before the connection is closed.

        Holding replies to the end of the turn sends each client one
        write per turn, after every ready client was read, instead of one
        per read interleaved with the reads: the other end is woken once,
        and a pipelining client gets its replies together.  When nothing
        is queued in the transport the data goes straight to the socket,
        saving the two epoll registrations and the dispatch of a
        transport write; what the kernel doesn't take goes through the
        transport as usual.
        """
        unsent = self._unsent
        if not unsent:
            return
        self._unsent = []
        if self._aborted:
            return
        data = unsent[0] if len(unsent) == 1 else b"".join(unsent)
        transport = self.transport
        if transport.connected and not transport.disconnecting and \
                not transport._tempDataBuffer and \
                len(transport.dataBuffer) == transport.offset:
            try:
                sent = transport.socket.send(data)
            except OSError:
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
        transport.write(data)

    def _emit(self, data: bytes):
        if self._queue:
            self._queue.append([True, data])
        elif self._out is not None:
            self._out.append(data)
        else:
            self._write(data)

    def _emitLater(self, name: bytes, reply, render) -> bool:
        """
        Queue C{reply} (a Deferred, or a large reply) with L{_emitDeferred};
        it is I{heavy} if it is large or the Deferred of a command that
        doesn't write (C{KEYS} or C{PRINT} on a big store, computed in the
        thread pool), as opposed to a write waiting for its fsync.  Until a
        heavy reply is rendered this client's next requests wait unread,
        so a pipeline of them holds one snapshot at a time, not hundreds.

        @return: whether it is heavy (the caller stops reading).
        """
        if isinstance(reply, Deferred):
            cmd = commands.lookup(name)
            heavy = cmd is None or not cmd.write
        else:
            heavy = _isLarge(reply)
        self._emitDeferred(reply, render, heavy)
        return heavy

    def _emitDeferred(self, reply, render, heavy: bool = False):
        """
        Queue the reply to C{reply} (a Deferred, or a large reply) in
        request order; render it when it is there, off the reactor thread
        if it is large (L{LARGE_REPLY}).  A C{heavy} one counts in
        C{_heavy} until rendered.
        """
        entry = [False, b""]
        self._queue.append(entry)
        runInThread = self.factory.runInThread
        if heavy:
            self._heavy += 1

        def rendered(data):
            entry[1] = data
            entry[0] = True
            self._drainQueue()
            if heavy:
                self._heavy -= 1
                if not self._heavy and self._readPaused:
                    self.factory.clock.callLater(0, self._resumeIfDrained)

        def failed(f):
            self._log.failure("rendering a reply failed", f)
            rendered(resp.render(Error("ERR internal error")))

        def done(reply):
            if runInThread is not None and _isLarge(reply):
                runInThread(render, reply).addCallbacks(rendered, failed)
                return
            try:
                data = render(reply)
            except Exception:
                failed(None)
                return
            rendered(data)

        if not isinstance(reply, Deferred):
            reply = succeed(reply)
        reply.addCallback(done)
        reply.addErrback(lambda f: self._log.failure("reply failed", f))

    def _drainQueue(self):
        queue = self._queue
        parts = []
        while queue and queue[0][0]:
            parts.append(queue.popleft()[1])
        if parts:
            data = b"".join(parts)
            if self._out is not None:
                self._out.append(data)
            elif self.transport is not None:
                self._write(data)
        if not queue and self._closing and self.transport is not None:
            self._finishClose()

    def _closeAfterOutput(self):
        """
        Stop reading; close once every reply before this point is sent.
        """
        self._closing = True
        self._chunks = []
        if not self._queue:
            if self._out:
                self._write(b"".join(self._out))
                del self._out[:]
            self._finishClose()

    def finish(self, why: str):
        """
        Stop running this client's requests and close the connection once
        the replies already owed to it are sent (graceful shutdown).  The
        requests it sent but that have not run yet are dropped unanswered.
        """
        if self._closing:
            return
        self.disconnectReason = why
        self._closeAfterOutput()

    def abort(self, why: str):
        """
        Drop the connection at once, discarding unsent replies (a client
        stalled past its bound, or idle past C{--timeout}).
        """
        self.disconnectReason = why
        self._closing = True
        self._aborted = True
        self._chunks = []
        self._unsent = []
        self.transport.abortConnection()

    def _finishClose(self):
        transport = self.transport
        if transport is not None:
            self.sendUnsent()
            # A transport that paused its producer (us) for a big reply
            # resumes the producer, instead of closing, once it drains:
            # unregister first, so that it closes.
            if transport.producer is not None:
                transport.unregisterProducer()
            transport.loseConnection()
