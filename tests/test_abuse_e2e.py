"""
End-to-end tests of a real C{twistd -n kvstore} under abuse: too many
clients, an endless line, a client that never reads its replies, AUTH in
every dialect, C{--password-file}, TLS, the idle timeout, protected mode
(from another network namespace, when this machine allows creating one) and
a graceful shutdown with clients connected and a pipeline in flight.

(A data directory that can't be used is tested in
C{tests/test_persistence_e2e.py}.)
"""

import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import uuid

import pytest

from tests.harness import (HOST, cliCommand, encodeCommand, logErrors,
                           parseInfo, waitFor)

redis = pytest.importorskip("redis")

PASSWORD = "s3cret pass"
NOAUTH = "NOAUTH Authentication required."
WRONGPASS = ("WRONGPASS invalid username-password pair or user is "
             "disabled.")


def readUntilClosed(sock, timeout=10.0) -> bytes:
    """
    Read until the server closes the connection; a reset counts as a
    close.

    @raise socket.timeout: if it stays open C{timeout} seconds.
    """
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def rss(pid: int) -> int:
    """
    The resident set size of process C{pid}, in bytes.
    """
    with open("/proc/%d/status" % (pid,)) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for %d" % (pid,))


# -- limits -----------------------------------------------------------------

def test_maxClients(makeServer):
    """
    With C{--max-clients 10}, ten clients are served; the eleventh gets
    C{ERR max number of clients reached} and is closed; INFO counts it as
    a rejected connection; once a client leaves, a new one gets in.
    """
    server = makeServer(["--max-clients", "10"])
    clients = [server.textClient() for _ in range(10)]
    try:
        for c in clients:
            assert c.command("PING") == "+PONG"
        with server.connect() as eleventh:
            assert readUntilClosed(eleventh) == \
                b"-ERR max number of clients reached\r\n"
        clients[0].send(encodeCommand("INFO"))
        head = clients[0].readLineBytes()
        info = parseInfo(clients[0].readExactly(int(head[1:]) + 2).decode())
        assert info["rejected_connections"] == "1"
        assert info["connected_clients"] == "10"
        assert info["maxclients"] == "10"
        clients.pop().close()
        # The server notices the close on its next turn: retry briefly.

        def getIn():
            with server.connect() as s:
                s.sendall(b"PING\r\n")
                return s.recv(100) == b"+PONG\r\n"
        waitFor(getIn, what="a free client slot")
    finally:
        for c in clients:
            c.close()
    assert "refused client" in server.log


def test_endlessLine(makeServer):
    """
    A 4 MiB line with no end gets C{ERR Protocol error: too big inline
    request} and is closed (the server does not buffer it all); other
    clients are served meanwhile and after.
    """
    server = makeServer()
    with server.textClient() as other, server.connect() as hog:
        got = []
        reader = threading.Thread(target=lambda: got.append(
            readUntilClosed(hog)), daemon=True)
        reader.start()
        try:
            hog.sendall(b"a" * (4 * 1024 * 1024))
        except OSError:
            pass  # the server closed it before taking it all: expected
        reader.join(15)
        assert got == [b"-ERR Protocol error: too big inline request\r\n"]
        assert other.command("SET k v") == "Added key 'k' with value 'v'"
    with server.textClient() as late:
        assert late.command("GET k") == "v"
    assert "too big inline request" in server.log


def test_slowReaderBoundedMemory(makeServer):
    """
    A client pipelining thousands of GETs of a 100 KB value without
    reading grows the server's memory by far less than the replies would
    take (the server stops reading it instead); another client meanwhile
    gets 100 PING replies within 2 seconds; and when the slow client
    finally reads, every reply is there, in order.
    """
    server = makeServer()
    value = os.urandom(50 * 1024).hex().encode()  # 100 KB
    count = 3000  # 300 MB of replies
    with server.connect() as setup:
        setup.sendall(encodeCommand("SET", "big", value))
        assert setup.recv(100) == b"+OK\r\n"
    baseline = rss(server.pid)
    slow = server.connect()
    try:
        slow.sendall(encodeCommand("GET", "big") * count)
        peak = [baseline]
        with server.textClient(timeout=5) as fast:
            # Let the server chew on the pipeline while we ping.
            waitFor(lambda: rss(server.pid) > baseline + 1024 * 1024,
                    timeout=5, what="the server to start replying")
            start = time.monotonic()
            for _ in range(100):
                assert fast.command("PING") == "+PONG"
                peak[0] = max(peak[0], rss(server.pid))
            elapsed = time.monotonic() - start
            assert elapsed < 2.0, "100 PINGs took %.2fs" % (elapsed,)
            # Memory stays bounded for a while, not just for a moment.
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                peak[0] = max(peak[0], rss(server.pid))
                select.select([], [], [], 0.05)
        growth = peak[0] - baseline
        assert growth < 256 * 1024 * 1024, \
            "server RSS grew by %d MiB" % (growth // (1024 * 1024),)
        # Now read everything: nothing was dropped.
        reply = b"$%d\r\n%s\r\n" % (len(value), value)
        expected = len(reply) * count
        slow.settimeout(30)
        got = 0
        tail = b""
        while got < expected:
            chunk = slow.recv(1 << 20)
            assert chunk, "closed after %d of %d bytes" % (got, expected)
            got += len(chunk)
            tail = (tail + chunk)[-len(reply):]
        assert got == expected
        assert tail == reply
    finally:
        slow.close()
    assert logErrors(server.log) == []


# -- who gets in ----------------------------------------------------------------

def test_authTextAndResp(makeServer):
    """
    With C{--requirepass}, the text and RESP protocols get NOAUTH before
    AUTH, WRONGPASS for a wrong password, and work after the right one.
    """
    server = makeServer(["--requirepass", PASSWORD])
    with server.textClient() as c:
        assert c.command("GET k") == NOAUTH
        assert c.command("SET k v") == NOAUTH
        assert c.command("AUTH wrong") == WRONGPASS
        assert c.command('AUTH "%s"' % (PASSWORD,)) == "OK"
        assert c.command("SET k v") == "Added key 'k' with value 'v'"
    with server.connect() as s:
        s.sendall(encodeCommand("GET", "k") + encodeCommand("AUTH", "nope")
                  + encodeCommand("AUTH", "default", PASSWORD)
                  + encodeCommand("GET", "k"))
        want = ("-%s\r\n-%s\r\n+OK\r\n$1\r\nv\r\n"
                % (NOAUTH, WRONGPASS)).encode()
        data = b""
        s.settimeout(10)
        while len(data) < len(want):
            chunk = s.recv(4096)
            assert chunk
            data += chunk
        assert data == want


def test_authRedisPy(makeServer):
    """
    redis-py with C{password=} works (RESP2 and RESP3, whose HELLO carries
    the AUTH); without it or with a wrong one, it is refused.
    """
    server = makeServer(["--requirepass", PASSWORD])
    for protocol in (2, 3):
        r = server.redis(password=PASSWORD, protocol=protocol)
        assert r.set("p%d" % protocol, "x") is True
        assert r.get("p%d" % protocol) == b"x"
        r.close()
    r = server.redis(protocol=2)
    with pytest.raises(redis.exceptions.AuthenticationError):
        r.get("p2")
    r.close()
    r = server.redis(password="wrong", protocol=2)
    with pytest.raises(redis.exceptions.AuthenticationError):
        r.get("p2")
    r.close()


def test_authRedisCli(makeServer):
    """
    C{redis-cli -a} authenticates; without it, NOAUTH.
    """
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli not installed")
    server = makeServer(["--requirepass", PASSWORD])
    base = ["redis-cli", "-h", HOST, "-p", str(server.port)]
    ok = subprocess.run(base + ["-a", PASSWORD, "--no-auth-warning",
                                "SET", "cli", "yes"],
                        capture_output=True, timeout=20)
    assert ok.stdout.strip() == b"OK", ok
    got = subprocess.run(base + ["-a", PASSWORD, "--no-auth-warning",
                                 "GET", "cli"],
                         capture_output=True, timeout=20)
    assert got.stdout.strip() == b"yes"
    refused = subprocess.run(base + ["GET", "cli"], capture_output=True,
                             timeout=20)
    assert NOAUTH.encode() in refused.stdout + refused.stderr


def test_authJsonAndColon(makeServer):
    """
    JSON lines authenticate with C{{"type": "AUTH", "value": PW}}; colon
    lines, which have no way to authenticate, get no reply at all and
    change nothing.
    """
    server = makeServer(["--requirepass", PASSWORD])
    with server.textClient() as c:
        assert c.command('{"type": "GET", "key": "j"}') == \
            '{"error": "%s"}' % (NOAUTH,)
        assert c.command('{"type": "AUTH", "value": "nope"}') == \
            '{"error": "%s"}' % (WRONGPASS,)
        assert c.command('{"type": "AUTH", "value": "%s"}'
                         % (PASSWORD,)) == '"OK"'
        assert c.command('{"type": "SET", "key": "j", "value": "1"}') == \
            '"OK"'
        assert c.command('{"type": "GET", "key": "j"}') == '"1"'
    with server.textClient() as colon:
        colon.sendLine("Put:ck:v1")
        colon.sendLine("Put:j:v2")
        colon.sendLine("Delete:j")
        colon.sendLine("Get:j")
        # The first reply is the PING's: the colon lines got nothing.
        assert colon.command("PING") == NOAUTH
    r = server.redis(password=PASSWORD, protocol=2)
    assert r.exists("ck") == 0
    assert r.get("j") == b"1"
    r.close()
    assert "colon protocol" in server.log


def test_passwordFile(makeServer, tmp_path):
    """
    C{--password-file} sets the password from the file's first line,
    which never appears on the command line; C{kvtwist-cli} takes it from
    C{--password} or the C{KVTWIST_PASSWORD} environment variable.
    """
    secret = "file-secret-%s" % (uuid.uuid4().hex,)
    path = tmp_path / "pw"
    path.write_text(secret + "\nsecond line ignored\n")
    server = makeServer(["--password-file", str(path)])
    with open("/proc/%d/cmdline" % (server.pid,), "rb") as f:
        assert secret.encode() not in f.read()
    with server.textClient() as c:
        assert c.command("GET k") == NOAUTH
        assert c.command("AUTH second") == WRONGPASS
        assert c.command("AUTH " + secret) == "OK"
    cli = cliCommand() + ["--host", HOST, "--port", str(server.port)]
    env = dict(os.environ)
    env.pop("KVTWIST_PASSWORD", None)
    result = subprocess.run(cli + ["--password", secret, "SET", "f", "1"],
                            capture_output=True, timeout=30, env=env,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result
    assert result.stdout == b"Added key 'f' with value '1'\n"
    env["KVTWIST_PASSWORD"] = secret
    result = subprocess.run(cli + ["GET", "f"], capture_output=True,
                            timeout=30, env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result
    assert result.stdout == b"1\n"
    env["KVTWIST_PASSWORD"] = "wrong"
    result = subprocess.run(cli + ["GET", "f"], capture_output=True,
                            timeout=30, env=env, stdin=subprocess.DEVNULL)
    assert b"WRONGPASS" in result.stdout + result.stderr


@pytest.fixture
def certificate(tmp_path):
    """
    A self-signed certificate for 127.0.0.1 and localhost:
    C{(keyPath, certPath)}.
    """
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    key = tmp_path / "key.pem"
    cert = tmp_path / "cert.pem"
    result = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        capture_output=True, timeout=60)
    if result.returncode != 0:
        pytest.skip("openssl req failed: %r" % (result.stderr,))
    return str(key), str(cert)


def test_tls(makeServer, certificate):
    """
    C{--listen ssl:PORT:privateKey=KEY:certKey=CERT} serves TLS beside the
    plain port: redis-py with C{ssl=True}, Python's C{ssl} verifying the
    certificate, and C{kvtwist-cli --tls --cacert}; the same store on both
    ports.
    """
    key, cert = certificate
    server = makeServer(["--listen", "ssl:0:privateKey=%s:certKey=%s:"
                         "interface=%s" % (key, cert, HOST)])
    (_, tlsPort), = waitFor(lambda: server.listening()[1:],
                            what="the TLS listener")
    r = redis.Redis(host=HOST, port=tlsPort, ssl=True, ssl_cert_reqs=None,
                    socket_timeout=10, protocol=2)
    assert r.set("tls", "secure") is True
    assert r.get("tls") == b"secure"
    r.close()
    context = ssl.create_default_context(cafile=cert)
    with socket.create_connection((HOST, tlsPort), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=HOST) as s:
            s.sendall(b"GET tls\r\n")
            assert s.recv(100) == b"secure\r\n"
            assert s.version() is not None
    with server.textClient() as plain:
        assert plain.command("GET tls") == "secure"
    result = subprocess.run(
        cliCommand() + ["--host", HOST, "--port", str(tlsPort), "--tls",
                        "--cacert", cert, "PING"],
        capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result
    assert b"PONG" in result.stdout
    # Plain text on the TLS port gets nothing it could take for a reply.
    with socket.create_connection((HOST, tlsPort), timeout=10) as raw:
        raw.sendall(b"GET tls\r\n")
        assert b"secure" not in readUntilClosed(raw)


def test_idleTimeout(makeServer):
    """
    With C{--timeout 1}, a silent client is closed within a few seconds
    and counted in INFO's C{dropped_clients}; a client that keeps talking
    stays.
    """
    server = makeServer(["--timeout", "1"])
    before = int(server.info()["dropped_clients"])
    with server.connect() as idle, server.textClient() as busy:
        start = time.monotonic()
        for _ in range(6):
            assert busy.command("PING") == "+PONG"
            select.select([], [], [], 0.2)
        assert readUntilClosed(idle, timeout=8) == b""
        waited = time.monotonic() - start
        assert 0.9 <= waited < 5, waited
        assert busy.command("PING") == "+PONG"
    # +1 for the INFO connection above, +1 for the idle client.
    assert int(server.info()["dropped_clients"]) >= before + 2
    assert "--timeout" in server.log


# -- protected mode from another network namespace -----------------------------

class Namespace:
    """
    A network namespace joined to this one by a veth pair on 10.200.X.0/24:
    this side is C{.1}, the namespace C{.2}.  Only traffic between this
    machine's own namespaces.
    """

    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.name = "kvt" + tag
        self.outside = "kva" + tag
        self.inside = "kvb" + tag
        subnet = int(tag[:2], 16) % 250 + 1
        self.hostAddress = "10.200.%d.1" % (subnet,)
        self.nsAddress = "10.200.%d.2" % (subnet,)

    def _ip(self, *args):
        subprocess.run(["ip"] + list(args), check=True, capture_output=True,
                       timeout=10)

    def create(self):
        """
        Create it; L{OSError} or L{subprocess.CalledProcessError} if this
        machine won't let us.
        """
        self._ip("netns", "add", self.name)
        try:
            self._ip("link", "add", self.outside, "type", "veth", "peer",
                     "name", self.inside)
            self._ip("link", "set", self.inside, "netns", self.name)
            self._ip("addr", "add", self.hostAddress + "/24", "dev",
                     self.outside)
            self._ip("link", "set", self.outside, "up")
            self._ip("netns", "exec", self.name, "ip", "addr", "add",
                     self.nsAddress + "/24", "dev", self.inside)
            self._ip("netns", "exec", self.name, "ip", "link", "set",
                     self.inside, "up")
            self._ip("netns", "exec", self.name, "ip", "link", "set", "lo",
                     "up")
        except Exception:
            self.destroy()
            raise

    def destroy(self):
        """
        Remove the namespace and the veth pair.
        """
        subprocess.run(["ip", "link", "del", self.outside],
                       capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", self.name],
                       capture_output=True, timeout=10)

    def talk(self, port: int, data: bytes) -> bytes:
        """
        From inside the namespace, connect to this side's address, send
        C{data}, and return what comes back before the server closes or
        goes quiet for a second.
        """
        script = (
            "import socket, sys\n"
            "s = socket.create_connection((%r, %d), timeout=10)\n"
            "s.sendall(%r)\n"
            "s.settimeout(1.0)\n"
            "out = b''\n"
            "try:\n"
            "    while True:\n"
            "        c = s.recv(65536)\n"
            "        if not c: break\n"
            "        out += c\n"
            "except (socket.timeout, ConnectionResetError):\n"
            "    pass\n"
            "sys.stdout.buffer.write(out)\n"
        ) % (self.hostAddress, port, data)
        import sys
        result = subprocess.run(
            ["ip", "netns", "exec", self.name, sys.executable, "-c", script],
            capture_output=True, timeout=30)
        assert result.returncode == 0, result
        return result.stdout


@pytest.fixture
def namespace():
    """
    A L{Namespace}, removed afterwards; the test is skipped if this
    machine doesn't allow creating one.
    """
    if shutil.which("ip") is None:
        pytest.skip("iproute2 not installed")
    ns = Namespace()
    try:
        ns.create()
    except (OSError, subprocess.SubprocessError) as e:
        pytest.skip("can't create a network namespace here: %s"
                    % (getattr(e, "stderr", None) or e,))
    yield ns
    ns.destroy()


@pytest.mark.parametrize("mode", ["protected", "no-protected-mode",
                                  "password"])
def test_protectedMode(makeServer, namespace, mode):
    """
    A client from another host (here: another network namespace) is
    refused with an explanation while no password is set; it gets in with
    C{--no-protected-mode}, and with a password it may authenticate.
    Loopback clients are always served.
    """
    extra = {"protected": [], "no-protected-mode": ["--no-protected-mode"],
             "password": ["--requirepass", PASSWORD]}[mode]
    server = makeServer(extra + ["--listen", "tcp:0:interface=%s"
                                 % (namespace.hostAddress,)])
    (_, port), = waitFor(lambda: [
        a for a in server.listening() if a[0] == namespace.hostAddress],
        what="the listener on the veth address")
    got = namespace.talk(port, b"PING\r\nAUTH \"%s\"\r\nPING\r\n"
                         % (PASSWORD.encode(),))
    if mode == "protected":
        assert got.startswith(b"-DENIED kvtwist is running in protected "
                              b"mode"), got
        assert b"--requirepass" in got and b"--no-protected-mode" in got
        assert got.count(b"\r\n") == 1
        info = server.info()
        assert info["rejected_connections"] == "1"
    elif mode == "no-protected-mode":
        assert got.startswith(b"+PONG\r\n"), got
    else:
        assert got == ("%s\r\nOK\r\n+PONG\r\n" % (NOAUTH,)).encode(), got
    with server.textClient() as local:
        if mode == "password":
            assert local.command("PING") == NOAUTH
        else:
            assert local.command("PING") == "+PONG"


# -- graceful shutdown ------------------------------------------------------------

@pytest.mark.parametrize("fsync", ["always", "interval"])
def test_gracefulShutdown(makeServer, fsync):
    """
    SIGTERM with idle clients connected and a pipeline of writes in
    flight: the server stops within 10 seconds with a clean exit; every
    write that ran got its reply before the connection closed, and those
    writes, and only those, are there after a restart (none was
    acknowledged after the final flush); idle clients are closed.
    """
    server = makeServer(["--fsync", fsync])
    idle = [server.connect() for _ in range(3)]
    pipe = server.connect(timeout=20)
    replies = []
    stopSending = threading.Event()

    def send():
        # Batches of pipelined writes, never waiting for replies, until
        # the server closes the connection: a pipeline always in flight.
        i = 0
        try:
            while not stopSending.is_set():
                pipe.sendall(b"".join(
                    encodeCommand("SET", "p:%07d" % (n,), "v%d" % (n,))
                    for n in range(i, i + 200)))
                i += 200
        except OSError:
            pass

    def read():
        buf = b""
        while True:
            try:
                chunk = pipe.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            lines = buf.split(b"\r\n")
            buf = lines.pop()
            replies.extend(lines)
        replies.append(buf)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        waitFor(lambda: len(replies) >= 2000, timeout=20,
                what="the pipeline to be under way")
        start = time.monotonic()
        code = server.stop(signal.SIGTERM, timeout=10)
        elapsed = time.monotonic() - start
        assert code in (0, -signal.SIGTERM), code
        assert elapsed < 10
        reader.join(10)
        assert not reader.is_alive()
        for s in idle:
            assert readUntilClosed(s, timeout=5) == b""
    finally:
        stopSending.set()
        for s in idle + [pipe]:
            s.close()
        sender.join(10)
    assert replies[-1] == b"", "a partial reply: %r" % (replies[-1],)
    acked = replies[:-1]
    assert set(acked) == {b"+OK"}, set(acked)
    assert len(acked) >= 2000
    server.start(server.extraArgs)
    r = server.redis(protocol=2)
    keys = sorted(r.keys("p:*"))
    assert len(keys) == len(acked)
    assert keys == [b"p:%07d" % (i,) for i in range(len(acked))]
    r.close()
    assert "closing" in server.log and "client connections" in server.log
    assert logErrors(server.log) == []
