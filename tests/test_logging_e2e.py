"""
What the server logs, as an operator sees it in twistd's log file: a
client flooding it with bad lines gets a few warnings and a count, not a
line each; C{--log-level warn} leaves out the line per connection.
"""

import os
import signal
import socket
import subprocess

from tests.harness import HOST, STOP_TIMEOUT, twistdCommand, waitFor


def test_floodOfBadColonLines(server):
    """
    100,000 bad colon lines (1.4 MB) make a few warnings and one count in
    the log, not a warning each (once 15 MB of them).
    """
    before = len(server.log)
    with server.textClient() as client:
        client.send(b"Update:k:only\n" * 100000)
        assert client.command("GET nothing") == "Key 'nothing' not found."
    waitFor(lambda: "99995 more colon refusals" in server.logSinceStart(),
            what="the count of refusals not logged")
    log = server.log[before:]
    assert len(log) < 10000, len(log)
    assert log.count("colon protocol: refused line") == 5


def test_logLevelWarn(tmp_path):
    """
    With C{--log-level warn} the lines of every connection (and the other
    information lines) are left out; warnings are still logged.
    """
    logPath = tmp_path / "twistd.log"
    sockPath = tmp_path / "kv.sock"
    process = subprocess.Popen(
        twistdCommand() + [
            "-n", "--logfile", str(logPath), "--pidfile", "", "kvstore",
            "--port", "tcp:0:interface=%s" % (HOST,),
            "--listen", "unix:%s" % (sockPath,),
            "--data-dir", str(tmp_path / "data"), "--log-level", "warn"],
        cwd=str(tmp_path), stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def answers():
            if process.poll() is not None:
                raise AssertionError("twistd exited with %s"
                                     % (process.returncode,))
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(10)
                    s.connect(str(sockPath))
                    s.sendall(b"PING\r\n")
                    return s.recv(100) == b"+PONG\r\n"
            except OSError:
                return False
        waitFor(answers, timeout=30, what="the server to answer on %s"
                % (sockPath,))
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(str(sockPath))
            s.sendall(b"Put:k\nPING\r\n")
            assert s.recv(100) == b"+PONG\r\n"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(STOP_TIMEOUT)
    log = logPath.read_text()
    assert "colon protocol: refused line" in log, log
    for quiet in ("connected from", "disconnected", "listening on",
                  "starting up"):
        assert quiet not in log, log
    assert os.path.getsize(logPath) < 1000
