"""
Tests for L{kvtwist.listening}: endpoint descriptions from the command
line, checked, and tried before the server starts.
"""

import errno
import socket

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.listening import (ListenError, checkDescription,
                               portToEndpoint, splitDescription, tcpAddress,
                               tryListening, withBacklog)


class DescriptionTests(SynchronousTestCase):
    """
    Reading and checking endpoint descriptions.
    """

    def test_portToEndpoint(self):
        """
        A bare number listens on every interface with Redis's backlog; an
        endpoint description gets the backlog unless it sets one.
        """
        self.assertEqual(portToEndpoint("3491"), "tcp:3491:backlog=511")
        self.assertEqual(portToEndpoint("tcp:5:interface=::1"),
                         "tcp:5:interface=::1:backlog=511")
        self.assertEqual(withBacklog("tcp:6:backlog=9"), "tcp:6:backlog=9")
        self.assertEqual(withBacklog("systemd:domain=INET:index=0"),
                         "systemd:domain=INET:index=0")

    def test_split(self):
        """
        Positional and named parts; C{\\:} is a colon inside a value.
        """
        self.assertEqual(
            splitDescription("tcp6:3490:interface=\\:\\:1:backlog=5"),
            ("tcp6", ["3490"], {"interface": "::1", "backlog": "5"}))

    def test_tcpAddress(self):
        """
        The kind, interface and port of TCP-like descriptions, in either
        form; L{None} for other kinds.
        """
        self.assertEqual(tcpAddress("tcp:3490"), ("tcp", "", 3490))
        self.assertEqual(tcpAddress("ssl:port=6380:interface=10.0.0.1:"
                                    "privateKey=k"),
                         ("ssl", "10.0.0.1", 6380))
        self.assertIsNone(tcpAddress("unix:/tmp/kv.sock"))

    def test_good(self):
        """
        Descriptions Twisted reads, with ports from 0 to 65535, pass.
        """
        for description in ("tcp:0", "tcp:65535:interface=127.0.0.1",
                            "tcp6:3490:interface=\\:\\:1",
                            "unix:/tmp/kv.sock:backlog=5"):
            checkDescription(description)

    def assertBad(self, description, *words):
        """
        C{description} is refused with a message holding C{words}.
        """
        e = self.assertRaises(ValueError, checkDescription, description)
        for word in words:
            self.assertIn(word, str(e))

    def test_bad(self):
        """
        An unknown kind, a port that is not a number or out of range, an
        unknown parameter and a missing certificate are each named.
        """
        self.assertBad("abc", "Unknown endpoint type", "abc")
        self.assertBad("-1", "Unknown endpoint type")
        self.assertBad("tcp:abc", "port must be a number")
        self.assertBad("tcp:99999", "99999", "out of range", "65535")
        self.assertBad("tcp:3490:bogus=1", "unknown parameter bogus")
        self.assertBad("ssl:0:privateKey=/no/such.pem",
                       "can't read /no/such.pem")


class FakeSocket:
    """
    A socket whose C{bind} fails with C{error} (or succeeds), recording
    what was asked.
    """

    def __init__(self, family, kind, error=None, calls=None):
        self.family = family
        self.error = error
        self.calls = calls if calls is not None else []
        self.closed = False

    def setsockopt(self, *args):
        self.calls.append(("setsockopt",) + args)

    def bind(self, address):
        self.calls.append(("bind", self.family, address))
        if self.error is not None:
            raise self.error

    def close(self):
        self.calls.append(("close",))


class TryListeningTests(SynchronousTestCase):
    """
    L{tryListening} binds the port a moment, as Twisted will.
    """

    def attempt(self, description, error=None):
        """
        Try C{description} with a socket failing with C{error}.

        @return: the calls made on the socket.
        """
        calls = []
        tryListening(description, lambda family, kind: FakeSocket(
            family, kind, error, calls))
        return calls

    def fails(self, description, code):
        """
        The message of the L{ListenError} for a bind failing with C{code}.
        """
        e = self.assertRaises(ListenError, self.attempt, description,
                              OSError(code, "boom"))
        return str(e)

    def test_bindsAsTwisted(self):
        """
        The interface and port are bound with C{SO_REUSEADDR}, then the
        socket is closed.
        """
        self.assertEqual(self.attempt("tcp:3490:interface=127.0.0.1"), [
            ("setsockopt", socket.SOL_SOCKET, socket.SO_REUSEADDR, 1),
            ("bind", socket.AF_INET, ("127.0.0.1", 3490)),
            ("close",)])
        self.assertEqual(self.attempt("tcp6:3490")[1],
                         ("bind", socket.AF_INET6, ("::", 3490)))

    def test_notTried(self):
        """
        Port 0 and non-TCP endpoints can't be taken already: not tried.
        """
        self.assertEqual(self.attempt("tcp:0"), [])
        self.assertEqual(self.attempt("unix:/tmp/kv.sock"), [])

    def test_inUse(self):
        """
        A port in use is named, with what to do.
        """
        message = self.fails("tcp:3490", errno.EADDRINUSE)
        self.assertEqual(message, "port 3490 (every interface) is already "
                         "in use (another kvtwist or Redis?): stop it, or "
                         "choose another port")

    def test_privileged(self):
        """
        A port below 1024 refused says that it needs root.
        """
        message = self.fails("tcp:80:interface=127.0.0.1", errno.EACCES)
        self.assertEqual(message, "not allowed to listen on port 80 on "
                         "127.0.0.1 (ports below 1024 need root)")

    def test_foreignInterface(self):
        """
        An interface that is not one of this machine's is named.
        """
        message = self.fails("tcp:3490:interface=10.9.9.9",
                             errno.EADDRNOTAVAIL)
        self.assertIn("10.9.9.9", message)
        self.assertIn("not an address of this machine", message)


class TryUnixTests(SynchronousTestCase):
    """
    L{tryListening} for UNIX sockets checks their directory.
    """

    def test_directoryUsable(self):
        """
        A socket in a writable directory passes, without binding.
        """
        asked = []
        tryListening("unix:/run/kv/kv.sock:backlog=5",
                     lambda *a: self.fail("bound"),
                     lambda path, mode: asked.append(path) or True,
                     lambda path: asked.append(path) and False)
        self.assertEqual(asked, ["/run/kv", "/run/kv/kv.sock"])

    def test_directoryMissing(self):
        """
        A socket whose directory is missing (or not writable) is named.
        """
        e = self.assertRaises(ListenError, tryListening,
                              "unix:/nonexistent/kv.sock",
                              socket.socket, lambda path, mode: False)
        self.assertEqual(str(e), "can't make the socket /nonexistent/kv.sock:"
                         " its directory /nonexistent is missing or not "
                         "writable")

    def test_inUse(self):
        """
        A socket whose lock a running server holds is named.
        """
        e = self.assertRaises(ListenError, tryListening, "unix:/run/kv.sock",
                              socket.socket, lambda path, mode: True,
                              lambda path: True)
        self.assertEqual(str(e), "the socket /run/kv.sock is in use by a "
                         "running server: stop it, or choose another path")
