# -*- test-case-name: kvtwist.test.test_protocol -*-
"""
The connection: joins a client's framer, its requests' execution, its
ordered reply queue and its writer, and keeps its reading in step with its
writing (backpressure).

Every connection speaks all dialects on the one port.  It starts as a text
connection (L{LineReceiver}'s line mode): each line goes to the line
dialect L{kvtwist.dialects.detect} picks, and Telnet commands are taken out
of its input (L{kvtwist.protocol.telnet}: Ctrl+C in telnet cancels the line
being typed).  The first request starting with C{*} makes it a RESP
connection (raw mode) for good: its lines are then Redis's inline
commands, answered in RESP.

A blocked client
========="""

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHalfCloseableProtocol, IPushProducer
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from zope.interface import implementer

from kvtwist import commands, dialects, transport as _transport
from kvtwist.dialects import resp, text
from kvtwist.interfaces import Backpressure
from kvtwist.logs import RepeatLimiter
from kvtwist.protocol import bulk as _bulk, framing, replyqueue
from kvtwist.protocol.framing import (
    Framer, LineTooLong, PREAUTH, ProtocolError, RESP_STARTS, TelnetReply)
from kvtwist.protocol.replyqueue import ReplyQueue
from kvtwist.protocol.subscribed import SubscribedMode
from kvtwist.protocol.writer import LARGE as STREAMED, TurnWriter
from kvtwist.commands.context import ConnectionFigures
from kvtwist.replies import (
    NO_REPLY, OK, PLAIN, Error, Later, Pushes, SetReply, Status)

TOO_BIG_INLINE = Error(framing.TOO_BIG_INLINE)

#: RESP's C{+OK}, the reply of every SET.
_OK_LINE = resp.render(OK)

#: How a L{Later} reply is rendered, by protocol version (made once, not
#: once per reply).
_RENDER_LATER = {2: lambda reply: resp.render(reply, 2),
                 3: lambda reply: resp.render(reply, 3)}


@implementer(IPushProducer, IHalfCloseableProtocol)
class KVProtocol(LineReceiver):
    """
    One client connection.

    Input goes through a L{Framer}; RESP requests run in batches
    (L{rawDataReceived}), lines one at a time (L{lineReceived}); replies
    go through a L{ReplyQueue} to a L{TurnWriter}.

    It is a L{LineReceiver} whose line mode is a text connection and whose
    raw mode a RESP one: L{MAX_LENGTH} is the longest line once
    authenticated (L{lineLengthExceeded} refuses a longer one),
    L{delimiter} ends a text connection's lines (the framer splits at it),
    L{setRawMode} makes the connection RESP,
    L{clearLineBuffer} takes the unfinished line that C{--unterminated-ms}
    runs.  L{dataReceived} is its own (see there).

    @ivar state: this client's L{kvtwist.commands.ClientState}.
    @ivar ctx: the L{kvtwist.commands.Context} handlers get.
    @ivar framer: the L{Framer} of its input.
    @ivar replies: the L{ReplyQueue} of its replies.
    @ivar writer: the L{TurnWriter} its replies leave through.
    @ivar warnings: the L{RepeatLimiter} of warnings about this client.
    @ivar disconnectReason: why the server closed it, if it did.
    @ivar stalledSince: when it stopped reading its replies (its input was
        paused), or L{None}.
    @ivar blocked: whether it waits on a blocking command (see the
        module's docstring).
    """

    _log = Logger()

    #: The longest text line once authenticated (Redis's inline limit is 64
    #: KiB); before, L{framing.PREAUTH}'s.
    MAX_LENGTH = framing.MAX_INLINE
    delimiter = b"\n"

    factory = None
    state = None
    ctx = None
    framer = None
    replies = None
    writer = None
    warnings = None

    def __init__(self):
        self._closing = False
        self._writePaused = False
        self._readPaused = False
        self._reading = False
        self._budget = 0
        self._unterminatedCall = None
        self._limits = None
        self.disconnectReason = None
        self.stalledSince = None
        self.blocked = False
        # Whether reading stopped because a blocked client sent too much,
        # or while a big bulk string's storage is made (L{_storeBulk}).
        self._inputHeld = False
        # The big bulk string's buffer whose storage is being made.
        self._storing = None
        # Pushed bytes sent since the transport's buffer filled, and since
        # when they are over the soft limit.
        self._pushedWhileFull = 0
        self._overSoftSince = None

    # -- connection ---------------------------------------------------------

    def connectionMade(self):
        """
        Register with the factory (which may refuse the client), then set
        up the input and output stages.
        """
        factory = self.factory
        transport = self.transport
        self.state, self.ctx, refusal = factory.clientConnected(self)
        if refusal is not None:
            self._closing = True
            transport.write(resp.render(refusal))
            self.disconnectReason = "refused: " + refusal
            transport.loseConnection()
            return
        transport.registerProducer(self, True)
        _transport.tuneTCP(transport)
        config = factory.config
        self._maxOutput = config.maxOutputBuffer
        self._limits = framing.authenticated(config.maxBulk,
                                             inline=self.MAX_LENGTH)
        self.framer = Framer(self._limits if self.state.authenticated
                             else PREAUTH, self.delimiter)
        self.framer.bulkStarted = self._storeBulk
        self.writer = TurnWriter(transport, factory.endOfTurn,
                                 _transport.directSender(transport),
                                 factory.stats,
                                 lambda: _transport.pendingOutput(transport))
        self.replies = ReplyQueue(self._send, factory.runInThread,
                                  resp.render, self._heavyDone,
                                  self._repliesSent)
        self._backend = factory.backend
        self._endTurn = factory.backend.endTurn
        self.state.push = self._push
        self.warnings = RepeatLimiter(
            self._log, factory.clock, "client {client} ({addr}): ",
            client=self.state.id, addr=self.state.addr)

    def connectionLost(self, reason):
        """
        Forget everything buffered; say how many warnings were not logged;
        tell the factory.
        """
        self._cancelUnterminated()
        if self.blocked:
            self._unblocked(None, resume=False)
        if self.warnings is not None:
            self.warnings.flush()
        if self.factory is not None and self.state is not None:
            self.factory.clientDisconnected(self, reason)
            # (getattr: backends written before the hook need not have it;
            # a refused client never reached the backend.)
            if self.framer is not None:
                gone = getattr(self._backend, "clientDisconnected", None)
                if gone is not None:
                    gone(self.ctx)
        if self.framer is not None:
            self.framer.discard()
            self.replies.clear()
            self.writer.discard()

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
        self._pushedWhileFull = 0
        self._overSoftSince = None
        writer = self.writer
        if writer is not None and writer.streaming():
            # A big reply goes on; requests run again once it is all given
            # to the transport.
            writer.drained()
            if writer.streaming():
                return
        if self._readPaused and not self._closing and \
                not self.replies.heavy:
            self._readPaused = False
            self.stalledSince = None
            if not self._inputHeld:
                self.transport.resumeProducing()
            self.factory.clientResumed(self)
            self._run()

    def _resumeIfDrained(self):
        """
        Go on reading, unless the replies held so far fill the transport
        (then it pauses us, and resumes us once drained) or a heavy reply
        is still on its way (then its arrival calls this again).
        """
        if self._closing or self.replies.heavy:
            return
        self.writer.flush()
        if not self._writePaused:
            self.resumeProducing()

    def stopProducing(self):
        """
        The transport is going away.
        """
        self._closing = True

    def readConnectionLost(self):
        """
        The client closed its side (C{printf 'GET k\\n' | nc -N host
        port}): what it sent still gets its replies, then the connection
        closes, as when the client sends C{QUIT}.  A reply that comes later
        (from a cluster, or after an fsync) is not lost with the
        connection.  A blocked client is closed now, as Redis does.  It
        counts as the client's close, not the server's (no
        L{disconnectReason}).
        """
        self._closeWhenAnswered()

    def writeConnectionLost(self):
        """
        Nothing: this side is never closed alone.
        """

    # -- input --------------------------------------------------------------

    def dataReceived(self, data: bytes):
        """
        Take a read: it counts as activity, whatever it holds (C{--timeout}
        closes only clients that send nothing), then run every request it
        completes.

        This replaces L{LineReceiver.dataReceived}, which would split one
        line at a time by copying the rest of its buffer (quadratic in the
        lines of one read, as a pipelining client sends them) and join
        every read to its buffer (quadratic in the reads of a big request);
        and it could not hand a read of many RESP requests to the one-pass
        splitter.  Lines still go to L{lineReceived}, a line too long to
        L{lineLengthExceeded}, a RESP connection's reads to
        L{rawDataReceived}.
        """
        if self._closing:
            return
        factory = self.factory
        factory.stats.netInput += len(data)
        self.state.lastActive = factory.clock.seconds()
        if self.line_mode:
            if self.framer.feed(data):
                self._run()
            self._checkUnterminated()
        else:
            # (rawDataReceived, inlined: a call per read.)
            framer = self.framer
            batch = framer.takeWhole(data)
            if batch is not None:
                self._run(None if self.blocked or self._writePaused
                          else batch)
            elif framer.feed(data):
                self._run()

    def rawDataReceived(self, data: bytes):
        """
        A read of a RESP connection: run every request it completes (see
        L{_run} for the usual read's short road).
        """
        framer = self.framer
        batch = framer.takeWhole(data)
        if batch is not None:
            self._run(None if self.blocked or self._writePaused else batch)
        elif framer.feed(data):
            self._run()

    def _run(self, batch=None):
        """
        Run the requests in the input, in order, until it holds no whole
        one, the connection closes, or the replies of this read reach the
        output budget (C{--max-output-buffer}) or fill the transport: then
        the rest waits unread (backpressure).  The replies leave at the end
        of the reactor turn; the backend ends its turn (the journal seals
        the batch of writes).

        @param batch: the requests a RESP read began with, taken by
            L{Framer.takeWhole} while nothing blocks or pauses this client:
            they run first, and the loop (the framer asked for more, the
            checks between batches) only if they leave something to do.
            This short road is the usual read's, and saves about a fifth
            of what the road costs per read.
        """
        factory = self.factory
        framer = self.framer
        self._reading = True
        self._budget = self._maxOutput
        try:
            more = True
            if batch is not None:
                drained = self._runResp(batch)
                if framer.limits is PREAUTH and self.state.authenticated:
                    framer.limits = self._limits
                more = not (drained and self._budget > 0 and
                            not self._writePaused)
            while more:
                if self._closing:
                    return
                if self.blocked:
                    self._holdInput()
                    break
                if self._writePaused or self._budget <= 0:
                    # Backpressure: leave the rest unread until drained.
                    self._readPaused = True
                    if self.stalledSince is None:
                        self.stalledSince = factory.now()
                    self.transport.pauseProducing()
                    factory.clientStalled(self)
                    break
                try:
                    item = framer.next()
                except ProtocolError as e:
                    self._protocolError(Error(str(e)))
                    return
                except LineTooLong as e:
                    self.lineLengthExceeded(e.line)
                    return
                if item is None:
                    break
                if item.__class__ is list:
                    drained = self._runResp(item)
                    if framer.limits is PREAUTH and self.state.authenticated:
                        framer.limits = self._limits
                    if drained and self._budget > 0 and \
                            not self._writePaused:
                        # The whole input ran, with no backpressure to
                        # apply: no need to ask the framer for more.
                        break
                    continue
                elif item is RESP_STARTS:
                    self.setRawMode()
                elif item.__class__ is TelnetReply:
                    self._emit(item)
                else:
                    self.lineReceived(item)
                if framer.limits is PREAUTH and self.state.authenticated:
                    # AUTH succeeded: lift the small caps.
                    framer.limits = self._limits
        finally:
            self._reading = False
            self.writer.release()
            self._endTurn()
        if self._readPaused and not self._writePaused:
            # The output budget ran out before the transport paused us:
            # look again on the next turn rather than waiting for a resume
            # that may not come.
            factory.clock.callLater(0, self._resumeIfDrained)

    def setRawMode(self):
        """
        This is a RESP connection from now on: the framer parses RESP.
        """
        LineReceiver.setRawMode(self)
        self.framer.startResp()
        self.state.dialect = "resp"

    def lineReceived(self, line: bytes):
        """
        Run one line in the dialect it starts with.
        """
        self._budget -= self._runLine(line)

    def lineLengthExceeded(self, line: bytes):
        """
        A line ran past the limit: answer Redis's error and close.
        """
        self._protocolError(TOO_BIG_INLINE)

    def _checkUnterminated(self):
        """
        (Re)start the wait of C{--unterminated-ms} while a text line waits
        for its end.
        """
        self._cancelUnterminated()
        delay = self.factory.config.unterminatedMs
        if delay and not self._closing and self.framer.partialLine():
            self._unterminatedCall = self.factory.clock.callLater(
                delay / 1000.0, self._runUnterminated)

    def _cancelUnterminated(self):
        call = self._unterminatedCall
        if call is not None:
            self._unterminatedCall = None
            if call.active():
                call.cancel()

    def _runUnterminated(self):
        """
        A text line stayed unterminated for C{--unterminated-ms}: run it as
        if it had ended (for seed clients that never send a line end).
        """
        self._unterminatedCall = None
        if self._closing or not self.framer.partialLine():
            return
        line = self.clearLineBuffer().rstrip(b"\r")
        self._reading = True
        try:
            self._runLine(line)
        finally:
            self._reading = False
            self.writer.release()
            self._endTurn()

    def clearLineBuffer(self) -> bytes:
        """
        Take the input not consumed yet out of the framer.

        @return: those bytes.
        """
        return self.framer.take()

    def _protocolError(self, error: Error):
        self._log.info("protocol error from {peer}: {error}",
                       peer=self.state.addr, error=error)
        self._emit(resp.render(error))
        self.disconnectReason = "protocol error"
        self._closeAfterOutput()

    # -- running requests ----------------------------------------------------

    def _runResp(self, batch, _render=resp.render, _plain=PLAIN,
                 _statusLines=resp.STATUS_LINES, _renderBulk=resp.renderBulk,
                 _okLine=_OK_LINE) -> bool:
        """
        Run parsed RESP requests, C{[(args, end), ...]}, in order; stop
        early if the connection closes or pauses, the output budget is
        spent, or authentication changes (the caps on what may be parsed
        change with it: the rest is parsed again).  Tell the framer where
        it stopped.

        @return: whether they were all of the input (see
            L{Framer.consumed}); C{False} if unsure.

        (The module's constants it uses are bound as default arguments,
        not looked up at every call: a read of one request runs this
        once.)
        """
        state = self.state
        if state.replyMode is not None:
            self._runRespQuietly(batch)
            return False
        # (state.dialect is "resp" since setRawMode: batches come only
        # then.)
        authenticated = state.authenticated
        ctx = self.ctx
        execute = self._backend.execute
        held = self.writer.held
        waiting = self.replies.waiting
        budget = self._budget
        pos = None
        for args, end in batch:
            if self._closing or self._writePaused or budget <= 0:
                break
            pos = end
            name = args[0]
            state.lastCommand = name
            reply = execute(ctx, name, args[1:])
            cls = reply.__class__
            # What resp.render(reply, protover) gives, inlined for the
            # replies of GET and SET (a call to it costs as much as the
            # rendering): a bulk string (one call, in C where built), or a
            # status line it has rendered before.  Then plain and not
            # isLarge(reply), also inlined: this runs for every request of
            # a pipeline.
            if cls is bytes:
                n = len(reply)
                if n < STREAMED:
                    data = _renderBulk(reply)
                else:
                    # A big value goes out as it is, not copied into its
                    # reply (the writer streams it).
                    # (The empty reply left goes after them, harmlessly.)
                    self._emitPieces((b"$%d\r\n" % (n,), reply, b"\r\n"))
                    budget -= n
                    data = b""
            elif reply is OK:
                data = _okLine
            elif cls is Status:
                data = _statusLines.get(reply) or _render(reply)
            elif cls in _plain and not ((cls is list or cls is dict or
                                         cls is SetReply) and
                                        len(reply) >
                                        replyqueue.LARGE_REPLY):
                data = _render(reply, state.protover)
            elif cls is Pushes:
                # (Un)subscribed: RESP2's subscribed mode may begin or end.
                data = _render(reply, state.protover)
                if self._subscribedMode():
                    execute = self._backend.execute
            elif isinstance(reply, Later):
                # A backend's reply that comes later (a cluster front
                # end's, from a node): in its place in the queue, rendered
                # in the protocol version of now.  (See _emitLater: never
                # heavy, never blocking.)
                self.replies.later(reply, _RENDER_LATER[state.protover])
                if self._subscribedMode():
                    execute = self._backend.execute
                if state.afterReply and self._afterReply():
                    break
                if state.authenticated is not authenticated:
                    break
                continue
            else:
                data = None
            if data is not None:
                if waiting:
                    self.replies.add(data)
                else:
                    held.append(data)
                budget -= len(data)
            else:
                # A Deferred, or large: rendered later, maybe elsewhere,
                # in the protocol version of now.
                # (Bound now: a later request of this loop may change it.)
                protover = state.protover
                if self._emitLater(name, reply,
                                   lambda r, p=protover: _render(r, p)):
                    budget = 0
                if self.blocked:
                    break
                # (A backend's later reply to SUBSCRIBE...: the client's
                # subscriptions are known as the command runs.)
                if self._subscribedMode():
                    execute = self._backend.execute
            if state.afterReply and self._afterReply():
                break
            if state.authenticated is not authenticated:
                break
        self._budget = budget
        if pos is not None:
            return self.framer.consumed(pos)
        return False

    def _afterReply(self) -> bool:
        """
        The state of the client changed in a way that concerns the
        connection (L{kvtwist.commands.ClientState.afterReply}): close
        after the replies so far (C{QUIT}), see that its replies are no
        longer all sent (C{CLIENT REPLY}), or that RESP2's subscribed mode
        began or ended (a C{SUBSCRIBE} inside C{EXEC}).

        @return: whether L{_runResp} must stop (its later requests run
            again from the framer, in L{_runRespQuietly} if replies are
            off).
        """
        state = self.state
        state.afterReply = False
        if state.closeAfterReply:
            self._closeAfterOutput()
        if self._subscribedMode():
            # (Un)subscribed inside EXEC: the later requests run through
            # the backend of the new mode.
            return True
        return state.replyMode is not None

    def _runRespQuietly(self, batch):
        """
        L{_runResp} for a client that turned its replies off (C{CLIENT
        REPLY OFF}) or asked for the next one to be skipped (C{SKIP}):
        each request runs, its reply is dropped (a later one still waits
        its turn) unless it turned them on again (C{CLIENT REPLY ON}:
        Redis answers it); once they are on, the rest of the batch goes
        back to L{_runResp}.
        """
        state = self.state
        state.dialect = "resp"
        ctx = self.ctx
        execute = self._backend.execute
        pos = None
        for args, end in batch:
            if self._closing or self._writePaused or self._budget <= 0:
                break
            pos = end
            before = state.replyMode
            if before == "skip":
                state.replyMode = None
            name = args[0]
            state.lastCommand = name
            protover = state.protover
            reply = execute(ctx, name, args[1:])
            if before == "off" and state.replyMode is None:
                # CLIENT REPLY ON: answered.
                self._emitLater(name, reply,
                                lambda r, p=protover: resp.render(r, p))
            elif isinstance(reply, (Deferred, Later)):
                # Dropped once it fires, keeping the order of the rest.
                self._emitLater(name, reply, lambda r: b"")
                if self.blocked:
                    break
            state.afterReply = False
            if state.closeAfterReply:
                self._closeAfterOutput()
            if state.replyMode is None:
                break
        if pos is not None:
            self.framer.consumed(pos)

    def _runLine(self, line: bytes) -> int:
        """
        Run one line in the dialect it starts with.

        @return: the size of its reply (all of the output budget if it is
            heavy).
        """
        dialect = dialects.detect(line)
        state = self.state
        state.dialect = dialect.name
        request = dialect.parse(line)
        if request is None:
            return 0
        if type(request) is Error:
            data = self._renderLine(dialect, None, request)
            self._emit(data)
            return len(data)
        state.lastCommand = request.name
        ctx = self.ctx
        if state.db and dialect is not text and ctx.store is not None:
            # Only the text protocol (and RESP) SELECTs: the colon and
            # JSON-lines dialects use database 0.
            ctx = commands.Context(ctx.store.owner, ctx.factory, ctx.service,
                                   state)
        reply = self._backend.execute(ctx, request.name, request.args)
        # Not plain (a Deferred), or large: isinstance(reply, Deferred)
        # costs more than the rest of this method.
        if reply.__class__ not in PLAIN or \
                replyqueue.isLarge(reply):
            heavy = self._emitLater(
                request.name, reply,
                lambda r: self._renderLine(dialect, request, r))
            size = self._maxOutput if heavy else 0
        else:
            data = dialect.render(request, reply)
            if data:
                self._emit(data)
            elif reply.__class__ is Error:
                self._unanswered(dialect, request, reply)
            size = len(data)
        if state.closeAfterReply:
            self._closeAfterOutput()
        return size

    def _renderLine(self, dialect, request, reply) -> bytes:
        """
        C{dialect}'s rendering of C{reply} to C{request}; an error it
        can't send is logged instead (L{_unanswered}).
        """
        data = dialect.render(request, reply)
        if not data and reply.__class__ is Error:
            self._unanswered(dialect, request, reply)
        return data

    def _unanswered(self, dialect, request, error: Error) -> None:
        """
        Log an error the dialect has no way to send, a few per client
        (L{warnings}).
        """
        describe = getattr(dialect, "unanswered", None)
        if describe is not None:
            self.warnings.warn("%s refusals" % (dialect.name,), "{refusal}",
                               refusal=describe(request, error))

    # -- output, in request order --------------------------------------------

    def _send(self, data: bytes):
        """
        Where the reply queue sends replies whose turn came: to the writer,
        which lets them go at the end of this read, or now if no read is
        running.
        """
        writer = self.writer
        writer.held.append(data)
        if len(data) >= STREAMED:
            writer.heldLarge = True
        if not self._reading:
            writer.release()

    def _emit(self, data: bytes):
        self.replies.add(data)

    def _emitPieces(self, pieces) -> None:
        """
        Send C{pieces} in order with the replies, not joined where the
        writer can take them as they are.
        """
        if self.replies.waiting:
            for piece in pieces:
                self.replies.add(piece)
        else:
            writer = self.writer
            writer.held.extend(pieces)
            writer.heldLarge = True
            if not self._reading:
                writer.release()

    def _emitLater(self, name: bytes, reply, render) -> bool:
        """
        Queue C{reply} (a Deferred, a L{Later}, or a large reply); it is
        I{heavy} if it is large, the Deferred of a command the table marks
        heavy (C{KEYS} or C{PRINT} on a big store, computed in the thread
        pool), or a L{Backpressure} (a write waiting for the log to catch
        up), as opposed to a write waiting for its fsync or any reply a
        backend gives later.  Until a heavy reply is rendered this client's
        next requests wait unread, so a pipeline of them holds one snapshot
        at a time, not hundreds, and a writer slowed down by the log sends
        nothing more meanwhile; other Deferred replies don't stop the
        reading.

        @return: whether it is heavy (the caller stops reading).
        """
        if reply is NO_REPLY:
            return False
        blocking = False
        if isinstance(reply, Later):
            # Never heavy, never blocking, never NO_REPLY.
            self.replies.later(reply, render)
            return False
        if isinstance(reply, Deferred):
            cmd = commands.lookup(name)
            heavy = (cmd is not None and cmd.heavy) or (
                reply.__class__ is Backpressure)
            blocking = cmd is not None and cmd.blocking and not reply.called
            render = _unlessNoReply(render)
        else:
            heavy = replyqueue.isLarge(reply)
        self.replies.later(reply, render, heavy)
        if blocking:
            self._block(reply)
        return heavy

    def connectionFigures(self) -> ConnectionFigures:
        """
        What C{CLIENT LIST} shows of this connection's socket and buffers.
        """
        transport = self.transport
        host = transport.getHost()
        port = getattr(host, "port", None)
        laddr = ("%s:%s" % (host.host, port)) if port is not None else \
            str(getattr(host, "name", "") or "unix")
        writer = self.writer
        held = sum(len(d) for d in writer.held) if writer else 0
        return ConnectionFigures(
            laddr, _transport.fileno(transport),
            self.framer.buffered() if self.framer else 0, held,
            len(self.replies.waiting) if self.replies else 0,
            _transport.pendingOutput(transport))

    # -- pushed messages -----------------------------------------------------

    def _push(self, message) -> None:
        """
        C{state.push}: send a message pushed to this client (a
        L{kvtwist.replies.Push}), in order with its replies, and drop the
        client if it holds too many unread (see the module's docstring).
        """
        if self._closing:
            return
        if self.line_mode:
            data = text.renderPush(message)
        else:
            data = resp.renderPush(message, self.state.protover)
        if self.blocked:
            self._send(data)
        else:
            self.replies.add(data)
        if self._writePaused:
            self._heldUnread(len(data))

    def _heldUnread(self, size: int) -> None:
        """
        C{size} more bytes of messages wait for a client whose transport
        is full: drop it past the hard limit, or past the soft one for its
        seconds (C{--pubsub-output-limit}).
        """
        held = self._pushedWhileFull = self._pushedWhileFull + size
        hard, soft, seconds = self.factory.config.pubsubOutputLimit
        why = None
        if hard and held >= hard:
            why = "hard"
        elif soft and held >= soft:
            now = self.factory.now()
            since = self._overSoftSince
            if since is None:
                self._overSoftSince = now
            elif now - since >= seconds:
                why = "soft"
        else:
            self._overSoftSince = None
        if why is not None:
            self._log.warn(
                "client {id} ({addr}) dropped: {held} bytes of pub/sub "
                "messages unread, past the {which} limit", id=self.state.id,
                addr=self.state.addr, held=held, which=why)
            self.factory.stats.outputLimitDisconnects += 1
            self.abort("pub/sub output past its %s limit" % (why,))

    def _subscribedMode(self) -> bool:
        """
        A RESP client subscribed or unsubscribed: run its requests through
        a L{SubscribedMode} while it subscribes to anything, through the
        backend itself otherwise.

        @return: whether that changed.
        """
        backend = self.factory.backend
        subscribed = bool(self.state.pubsub)
        if subscribed == (self._backend is not backend):
            return False
        if subscribed:
            self._backend = SubscribedMode(backend, self._leaveSubscribedMode)
        else:
            self._backend = backend
        return True

    def _leaveSubscribedMode(self) -> None:
        self._backend = self.factory.backend

    # -- a blocked client ----------------------------------------------------

    def _block(self, reply: Deferred) -> None:
        """
        The client waits on C{reply}, the Deferred of a blocking command:
        run none of its later requests until it fires.
        """
        self.blocked = self.state.blocked = True
        self.factory.stats.blockedClients += 1
        reply.addBoth(self._unblocked)

    def _unblocked(self, result, resume: bool = True):
        """
        The blocking command's reply came (it was queued first, so it is
        on its way), or the connection ended (not C{resume}): the
        client's later requests run on the next reactor turn, as Redis
        runs an unblocked client's pending input after the command that
        served it.
        """
        if self.blocked:
            self.blocked = self.state.blocked = False
            self.factory.stats.blockedClients -= 1
            if resume and not self._closing:
                self.factory.clock.callLater(0, self._resumeAfterBlock)
        return result

    def _holdInput(self) -> None:
        """
        While blocked: stop reading once the input kept unrun reaches the
        output budget's size (C{--max-output-buffer}).
        """
        if not self._inputHeld and self.framer.buffered() > self._maxOutput:
            self._inputHeld = True
            self.transport.pauseProducing()

    def _resumeAfterBlock(self) -> None:
        """
        Read again if reading stopped while blocked; run the requests that
        waited.
        """
        if self._closing or self.blocked:
            return
        if self._inputHeld:
            self._inputHeld = False
            if not self._readPaused:
                self.transport.resumeProducing()
        self._run()

    def _storeBulk(self, bulk) -> None:
        """
        A big bulk string started coming into C{bulk}: where the buffer
        can take the L{bytes} object the value becomes (PyPy: see
        L{kvtwist.protocol.bulk}), make it in a thread and stop reading
        until it is there, so the value is never copied, nor in memory
        twice, and the reactor never waits for its memory.
        """
        runInThread = self.factory.runInThread
        wants = getattr(bulk, "wantsStorage", None)
        if self._storing is not None or runInThread is None or \
                wants is None or not wants():
            return
        self._storing = bulk
        if not self._inputHeld:
            self._inputHeld = True
            self.transport.pauseProducing()

        def made(storage):
            self._storing = None
            if self.framer is not None and \
                    self.framer.receivingBulk() is bulk:
                bulk.adopt(storage)
            if self._inputHeld and not self._closing and not self.blocked:
                self._inputHeld = False
                if not self._readPaused:
                    self.transport.resumeProducing()

        def failed(reason):
            self._log.failure("can't make the storage of a bulk string",
                              reason)
            made(None)

        runInThread(_bulk.allocate, bulk.size).addCallbacks(made, failed)

    def _heavyDone(self):
        """
        The last heavy reply was rendered: read again if reading waited.
        """
        if self._readPaused:
            self.factory.clock.callLater(0, self._resumeIfDrained)

    def _repliesSent(self):
        """
        Every reply that waited has left: finish a close that waited for
        them.
        """
        if self._closing and self.transport is not None:
            self._finishClose()

    def _closeAfterOutput(self):
        """
        Stop reading; close once every reply before this point is sent.
        """
        self._closing = True
        self.framer.discard()
        if not self.replies.waiting:
            self._finishClose()

    def finish(self, why: str):
        """
        Stop running this client's requests and close the connection once
        the replies already owed to it are sent (graceful shutdown).  The
        requests it sent but that have not run yet are dropped unanswered.
        A blocked client is closed now, with what is ready for it: the
        reply of its blocking command will not come (Redis closes it too).
        """
        if self._closing:
            return
        self.disconnectReason = why
        self._closeWhenAnswered()

    def _closeWhenAnswered(self):
        """
        L{finish} and L{readConnectionLost}: close once the replies owed
        are sent; a blocked client now.
        """
        if self._closing:
            return
        if self.blocked:
            self._closing = True
            self.framer.discard()
            self._finishClose()
            return
        self._closeAfterOutput()

    def abort(self, why: str):
        """
        Drop the connection at once, discarding unsent replies (a client
        stalled past its bound, or idle past C{--timeout}).
        """
        self.disconnectReason = why
        self._closing = True
        self.framer.discard()
        self.writer.discard()
        self.transport.abortConnection()

    def _finishClose(self):
        transport = self.transport
        if transport is not None:
            self.writer.finish()
            # A transport that paused its producer (us) for a big reply
            # resumes the producer, instead of closing, once it drains:
            # unregister first, so that it closes.
            if transport.producer is not None:
                transport.unregisterProducer()
            transport.loseConnection()


def _unlessNoReply(render):
    """
    C{render}, but rendering L{NO_REPLY} (a C{SHUTDOWN} that succeeded)
    as nothing.
    """
    def renderUnlessNoReply(reply, *args):
        if reply is NO_REPLY:
            return b""
        return render(reply, *args)
    return renderUnlessNoReply
