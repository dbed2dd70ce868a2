# -*- test-case-name: kvtwist.test.test_listening -*-
"""
Where the server listens: C{--port}, C{--listen} and C{--web} values turned
into Twisted endpoint descriptions, checked as the command line is read,
and tried before the server starts, so that a mistake is named in one line
rather than found by a listener once twistd has daemonized.
"""

import errno
import os
import re
import socket
from typing import Callable, Dict, List, Optional, Tuple

#: The listen backlog, as Redis's C{tcp-backlog}: Twisted's default of 50
#: makes a burst of connects wait a second for a retry.
BACKLOG = 511

#: The endpoint kinds that listen on a TCP port.
TCP_KINDS = ("tcp", "tcp6", "ssl")


class ListenError(Exception):
    """
    A listener can't listen where it was told; the message says why and
    what to do, for people.
    """


def portToEndpoint(port: str) -> str:
    """
    Turn a C{--port} value into an endpoint description: a bare number
    listens on every interface; anything else is already one.
    """
    if port.isdigit():
        return "tcp:%s:backlog=%d" % (port, BACKLOG)
    return withBacklog(port)


def withBacklog(description: str) -> str:
    """
    Add Redis's listen backlog to a TCP, TCP6, UNIX or SSL endpoint
    description that doesn't set one.
    """
    kind = description.split(":", 1)[0]
    if kind in ("tcp", "tcp6", "ssl", "unix") and \
            "backlog=" not in description:
        return "%s:backlog=%d" % (description, BACKLOG)
    return description


def splitDescription(description: str) -> Tuple[str, List[str],
                                                Dict[str, str]]:
    """
    The parts of an endpoint description: its kind, its positional
    arguments and its C{name=value} ones (C{\\:} is a colon inside a
    value, as Twisted reads it).
    """
    fields = [f.replace("\\:", ":")
              for f in re.split(r"(?<!\\):", description)]
    kind, positional, named = fields[0], [], {}
    for field in fields[1:]:
        name, equals, value = field.partition("=")
        if equals:
            named[name] = value
        else:
            positional.append(field)
    return kind, positional, named


def tcpAddress(description: str) -> Optional[Tuple[str, str, int]]:
    """
    Where a TCP, TCP6 or SSL endpoint description listens: C{(kind,
    interface, port)}, C{interface} empty for every one; L{None} for
    other kinds.

    @raise ValueError: if the port is not a number.
    """
    kind, positional, named = splitDescription(description)
    if kind not in TCP_KINDS:
        return None
    port = named.get("port", positional[0] if positional else "")
    return kind, named.get("interface", ""), int(port)


def checkDescription(description: str) -> None:
    """
    Check an endpoint description as Twisted would read it, without
    listening: a known kind, parameters it takes, and for TCP a port
    from 0 (any free one) to 65535.

    @raise ValueError: saying what is wrong, for people.
    """
    from twisted.internet.endpoints import serverFromString
    try:
        serverFromString(None, description)
    except TypeError as e:
        # Twisted's parsers take their parameters as keyword arguments.
        unknown = re.search(r"keyword argument '(\w+)'", str(e))
        raise ValueError("unknown parameter %s" % (
            unknown.group(1) if unknown else e,))
    except OSError as e:
        raise ValueError("can't read %s: %s" % (e.filename, e.strerror))
    except (ValueError, KeyError, IndexError) as e:
        message = str(e)
        if message.startswith("invalid literal for int()"):
            message = "the port must be a number"
        raise ValueError(message)
    address = tcpAddress(description)
    if address is not None and not 0 <= address[2] <= 65535:
        raise ValueError("port %d is out of range: a TCP port is 1 to "
                         "65535 (0 takes any free one)" % (address[2],))


def describeSocketError(where: str, error: OSError, port: int) -> str:
    """
    What a failed bind means for people, with what to do.

    @param where: C{"port 3490 on 127.0.0.1"}, or on every interface.
    """
    code = error.errno
    if code == errno.EADDRINUSE:
        return ("%s is already in use (another kvtwist or Redis?): stop "
                "it, or choose another port" % (where,))
    if code == errno.EACCES:
        hint = " (ports below 1024 need root)" if 0 < port < 1024 else ""
        return "not allowed to listen on %s%s" % (where, hint)
    if code == errno.EADDRNOTAVAIL:
        return ("can't listen on %s: that interface is not an address of "
                "this machine" % (where,))
    return "can't listen on %s: %s" % (where, error.strerror or error)


def where(interface: str, port: int) -> str:
    """
    C{"port 3490 on 127.0.0.1"}, or C{"port 3490 (every interface)"}.
    """
    if interface:
        return "port %d on %s" % (port, interface)
    return "port %d (every interface)" % (port,)


def unixPath(description: str) -> Optional[str]:
    """
    The socket file of a UNIX endpoint description, or L{None} for other
    kinds.
    """
    kind, positional, named = splitDescription(description)
    if kind != "unix":
        return None
    return named.get("address", positional[0] if positional else "")


def _socketLocked(path: str) -> bool:
    """
    Whether a running server holds the lock Twisted takes beside a UNIX
    socket it listens on (C{PATH.lock}).
    """
    from twisted.python.lockfile import isLocked
    return isLocked(path + ".lock")


def tryListening(description: str,
                 makeSocket: Callable[..., socket.socket] = socket.socket,
                 access: Callable[[str, int], bool] = os.access,
                 locked: Callable[[str], bool] = _socketLocked) -> None:
    """
    Bind the TCP port of C{description} for a moment, as Twisted will
    (with C{SO_REUSEADDR}), to find a port in use, a privileged port or a
    foreign interface before the server starts; port 0 is not tried.  For
    a UNIX socket, check that its directory can take it.  Other kinds are
    left to the listener.

    @param makeSocket: L{socket.socket}.
    @param access: L{os.access}.
    @param locked: whether a server holds a UNIX socket's lock file.
    @raise ListenError: naming the port or file and what to do.
    """
    path = unixPath(description)
    if path is not None:
        directory = os.path.dirname(os.path.abspath(path))
        if not access(directory, os.W_OK | os.X_OK):
            raise ListenError("can't make the socket %s: its directory %s "
                              "is missing or not writable" % (path,
                                                              directory))
        if locked(path):
            raise ListenError("the socket %s is in use by a running "
                              "server: stop it, or choose another path"
                              % (path,))
        return
    address = tcpAddress(description)
    if address is None or address[2] == 0:
        return
    kind, interface, port = address
    family = socket.AF_INET6 if kind == "tcp6" or ":" in interface \
        else socket.AF_INET
    probe = makeSocket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((interface or ("::" if family == socket.AF_INET6
                                  else ""), port))
    except OSError as e:
        raise ListenError(describeSocketError(where(interface, port), e,
                                              port))
    finally:
        probe.close()
