# -*- test-case-name: kvtwist.test.test_transport -*-
"""
What kvtwist does to a connection's socket beneath Twisted's transport.

The rest of kvtwist talks to transports through their interfaces
(C{write}, C{loseConnection}, the producer calls).  Two things need more,
and they live here, in one place, next to L{kvtwist.reactor} (the other
module that knows Twisted's internals):

    - L{tuneTCP} sets the TCP options Redis sets on a client's socket;
    - L{directSender} sends a connection's replies straight to its socket
      when the transport holds nothing unsent, which reads the private
      buffer attributes of Twisted's C{FileDescriptor} (C{_tempDataBuffer},
      C{dataBuffer}, C{offset}) and uses its C{socket};
    - L{pendingOutput} reads the same attributes to tell how much is
      unsent (C{CLIENT LIST}'s C{omem}).

Only plain TCP and UNIX connections (C{tcp.Server}, C{unix.Server}, and
C{tcp.Client}, which a cluster front end's connections to its nodes are)
get a direct sender: their buffering is known.  TLS and every other transport
(test transports included) are written to through C{transport.write}.
"""

import socket
from typing import Callable, Optional, Tuple

#: Seconds of silence before TCP keepalive probes start, as Redis's
#: C{tcp-keepalive} default; then a probe every third of that, and the
#: connection is dropped after 3 unanswered.
KEEPALIVE = 300


def tuneTCP(transport, keepalive: int = KEEPALIVE) -> None:
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


def _directKinds() -> Tuple[type, ...]:
    """
    The transport classes whose buffering L{directSender} knows.
    """
    from twisted.internet import tcp
    # tcp.Client: the cluster front end's connections to its nodes.
    kinds = [tcp.Server, tcp.Client]
    try:
        from twisted.internet import unix
    except ImportError:  # pragma: no cover - platforms without UNIX sockets
        pass
    else:
        kinds.append(unix.Server)
    return tuple(kinds)


def canSendDirectly(transport) -> bool:
    """
    Whether L{directSender} may send straight to C{transport}'s socket:
    only plain TCP and UNIX connections, whose buffering is known (not one
    that started TLS: its bytes must go through the TLS layer).
    """
    return type(transport) in _directKinds() and \
        hasattr(transport, "socket") and not getattr(transport, "TLS", False)


def directSender(transport) -> Optional[Callable[[bytes], None]]:
    """
    A C{send(data)} for C{transport} that skips the transport's buffer when
    it holds nothing: C{data} goes straight to the socket, and only what
    the kernel doesn't take goes through C{transport.write}, behind which
    it is sent in order as usual.  That saves the two epoll registrations
    and the dispatch of a transport write per reply: most replies fit in
    the socket's buffer at once.

    While the transport still holds data (or is closing), C{data} goes
    through C{transport.write}, never around what is queued.

    C{data} may be a L{memoryview} (a slice of a big reply): what the
    kernel doesn't take of it is copied for the transport.

    @return: the function, or L{None} when C{transport} is not one of the
        kinds whose buffering is known (see L{canSendDirectly}): write to
        it with C{transport.write}.
    """
    if not canSendDirectly(transport):
        return None
    write = transport.write

    def send(data: bytes) -> None:
        t = transport
        if t.connected and not t.disconnecting and \
                not t._tempDataBuffer and len(t.dataBuffer) == t.offset:
            try:
                sent = t.socket.send(data)
            except OSError:
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
        if data.__class__ is not bytes:
            # (A memoryview: a slice of a big reply, not copied unless
            # the kernel doesn't take it.)
            data = bytes(data)
        write(data)

    return send


def pendingOutput(transport) -> int:
    """
    How many bytes C{transport} holds unsent (C{CLIENT LIST}'s C{omem}),
    for the kinds whose buffering is known (see L{canSendDirectly}); 0
    for others.
    """
    if not canSendDirectly(transport):
        return 0
    return (len(transport.dataBuffer) - transport.offset
            + transport._tempDataLen)


def fileno(transport) -> int:
    """
    The file descriptor of C{transport}'s socket, or -1.
    """
    try:
        return transport.fileno()
    except Exception:
        return -1
