# -*- test-case-name: kvtwist.test.test_cluster_probe -*-
"""
A look at the seed nodes as C{twistd kvstore} starts, before twistd
daemonizes, as the ports are tried: a mistake the user must fix (a wrong
password, a server that is not a cluster node, TLS against a plain port)
stops the start with a short message; nodes that can't be reached yet
only get a warning (the front end keeps trying, and clients get errors
until the cluster answers).

It runs before the reactor does, so it blocks, each step bounded by a
timeout.
"""

import socket
import ssl
from typing import List, Optional

from kvtwist.backends.cluster.config import ClusterURL
from kvtwist.backends.cluster.connection import helloRequest
from kvtwist.backends.cluster.reader import (
    ReplyFormatError, ReplyReader, encode)
from kvtwist.backends.cluster.slots import Address
from kvtwist.replies import Error


class ClusterMisconfigured(Exception):
    """
    The seed nodes answered, and what they said means the options are
    wrong; the message is one or two lines for people.
    """


class _Unreachable(Exception):
    pass


def _exchange(address: Address, requests: List[bytes], tls: bool,
              timeout: float, caFile: Optional[str]) -> list:
    try:
        sock = socket.create_connection((address.host, address.port),
                                        timeout=timeout)
    except OSError as e:
        raise _Unreachable("%s: %s" % (address, e.strerror or e))
    try:
        if tls:
            context = ssl.create_default_context(cafile=caFile)
            try:
                sock = context.wrap_socket(sock,
                                           server_hostname=address.host)
            except (ssl.SSLError, OSError) as e:
                raise ClusterMisconfigured(
                    "--backend: TLS with node %s failed: %s" % (
                        address, getattr(e, "reason", None) or e))
        reader = ReplyReader()
        replies: list = []
        sock.sendall(b"".join(requests))
        while len(replies) < len(requests):
            try:
                data = sock.recv(65536)
            except socket.timeout:
                raise _Unreachable("%s: no answer within %gs"
                                   % (address, timeout))
            except OSError as e:
                raise _Unreachable("%s: %s" % (address, e.strerror or e))
            if not data:
                if tls:
                    raise _Unreachable("%s closed the connection" % (
                        address,))
                raise ClusterMisconfigured(
                    "--backend: node %s closed the connection at once (a "
                    "TLS port? then use rediss-cluster://)" % (address,))
            try:
                replies.extend(reader.feed(data))
            except ReplyFormatError:
                raise ClusterMisconfigured(
                    "--backend: %s does not speak Redis's protocol%s" % (
                        address, "" if tls else
                        " (a TLS port? then use rediss-cluster://)"))
        return replies
    finally:
        sock.close()


def probe(url: ClusterURL, password: Optional[bytes], timeout: float = 2.0,
          caFile: Optional[str] = None) -> Optional[str]:
    """
    Greet the seeds, one after another, until one answers as a cluster
    node should.

    @return: L{None} if one did; a warning for the log if none could be
        reached.
    @raise ClusterMisconfigured: if a node answered in a way that means
        the options are wrong.
    """
    problems = []
    for address in url.seeds:
        try:
            hello, info = _exchange(
                address, [helloRequest(password, b"kvtwist-probe"),
                          encode([b"CLUSTER", b"INFO"])],
                url.tls, timeout, caFile)
        except _Unreachable as e:
            problems.append(str(e))
            continue
        if hello.__class__ is Error:
            _refused(address, str(hello), password)
        if info.__class__ is Error:
            if "cluster support disabled" in info:
                raise ClusterMisconfigured(
                    "--backend: %s is a Redis server without cluster "
                    "support (cluster-enabled no): name nodes of a Redis "
                    "Cluster" % (address,))
            raise ClusterMisconfigured(
                "--backend: %s is not a Redis Cluster node (CLUSTER INFO "
                "answered: %s)" % (address, info))
        return None
    return ("cannot reach any seed node of --backend %s yet (%s): kvtwist "
            "starts anyway, keeps trying, and answers clients with errors "
            "until the cluster answers" % (url.text, "; ".join(problems)))


def _refused(address: Address, error: str, password: Optional[bytes]):
    code = error.split(" ", 1)[0]
    if code in ("NOAUTH", "WRONGPASS") or "AUTH" in error and \
            password is not None:
        if password is None:
            raise ClusterMisconfigured(
                "--backend: node %s requires a password: give "
                "--backend-password-file" % (address,))
        raise ClusterMisconfigured(
            "--backend-password-file: node %s refused the password (%s)"
            % (address, error))
    if "unknown command" in error.lower():
        raise ClusterMisconfigured(
            "--backend: node %s is older than Redis 6 (it does not know "
            "HELLO); kvtwist needs Redis 6 or later" % (address,))
    raise ClusterMisconfigured("--backend: node %s refused the handshake: %s"
                               % (address, error))
