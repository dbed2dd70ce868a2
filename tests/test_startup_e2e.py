"""
Startup mistakes, as a user makes them: each stops C{twistd kvstore} with
one or two lines naming the problem and the fix, no traceback, and a
non-zero exit status, in the foreground (C{-n}) and as a daemon alike.
"""

import os
import signal
import socket
import subprocess

import pytest

from tests.harness import HOST, twistdCommand

MODES = ["foreground", "daemon"]


def runTwistd(tmp_path, mode, *kvstoreArgs, timeout=60, logfile=True):
    """
    Run C{twistd [-n] kvstore ARGS} in C{tmp_path} and return the finished
    process (its output in C{.stdout}, stdout and stderr together).

    @param logfile: whether twistd logs to a file (else to standard
        output, as C{twistd -n kvstore} does by default).
    """
    argv = twistdCommand()
    if mode == "foreground":
        argv.append("-n")
    argv += ["--pidfile", str(tmp_path / "twistd.pid")]
    if logfile:
        argv += ["--logfile", str(tmp_path / "twistd.log")]
    argv += ["kvstore"]
    argv += list(kvstoreArgs)
    if "--data-dir" not in kvstoreArgs:
        argv += ["--data-dir", str(tmp_path / "data")]
    try:
        return subprocess.run(
            argv, cwd=str(tmp_path), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=timeout)
    finally:
        # A daemon that started after all must not outlive the test.
        pidfile = tmp_path / "twistd.pid"
        if mode == "daemon" and pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except (ValueError, OSError):
                pass


def assertRefused(result, *words):
    """
    The process failed with one or two lines holding each of C{words},
    and no traceback.
    """
    text = result.stdout.decode("utf-8", "replace")
    assert result.returncode != 0, text
    lines = text.strip().splitlines()
    assert 1 <= len(lines) <= 2, text
    assert "Traceback" not in text, text
    for word in words:
        assert word in text, text
    return text


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("port", ["abc", "-1"])
def test_portNotANumber(tmp_path, mode, port):
    """
    C{--port abc} and C{--port=-1} name the value and say what a port
    looks like.
    """
    result = runTwistd(tmp_path, mode, "--port=" + port)
    assertRefused(result, "--port %s" % (port,), "port number",
                  "tcp:3490:interface=127.0.0.1")


@pytest.mark.parametrize("mode", MODES)
def test_portOutOfRange(tmp_path, mode):
    """
    C{--port 99999} says the range.
    """
    result = runTwistd(tmp_path, mode, "--port", "99999")
    assertRefused(result, "--port 99999", "out of range", "65535")


@pytest.mark.parametrize("mode", MODES)
def test_portInUse(tmp_path, mode):
    """
    A port another process listens on is named, with what to do.
    """
    with socket.socket() as other:
        other.bind((HOST, 0))
        other.listen(1)
        port = other.getsockname()[1]
        description = "tcp:%d:interface=%s" % (port, HOST)
        result = runTwistd(tmp_path, mode, "--port", description)
    assertRefused(result, "--port %s" % (description,),
                  "port %d on %s is already in use" % (port, HOST),
                  "choose another port")
    assert not (tmp_path / "twistd.pid").exists()


@pytest.mark.parametrize("mode", MODES)
def test_listenInUse(tmp_path, mode):
    """
    A C{--listen} endpoint in use is named too.
    """
    with socket.socket() as other:
        other.bind((HOST, 0))
        other.listen(1)
        port = other.getsockname()[1]
        result = runTwistd(tmp_path, mode,
                           "--port", "tcp:0:interface=%s" % (HOST,),
                           "--listen", "tcp:%d:interface=%s" % (port, HOST))
    assertRefused(result, "--listen tcp:%d" % (port,), "already in use")


@pytest.mark.parametrize("mode", MODES)
def test_mistypedOption(tmp_path, mode):
    """
    A mistyped option is named with the likely one, without twistd's
    whole help.
    """
    result = runTwistd(tmp_path, mode, "--prot", "3490")
    assertRefused(result, "--prot not recognized", "did you mean --port?",
                  "twistd kvstore --help")


@pytest.mark.parametrize("mode", MODES)
def test_badValue(tmp_path, mode):
    """
    A value of the wrong kind names the option.
    """
    result = runTwistd(tmp_path, mode, "--fsync", "sometimes")
    assertRefused(result, "--fsync must be one of always, interval, no")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("args, words", [
    (["--databases", "0"], ["--databases must be from 1 to 100000"]),
    (["--databases", "many"], ["--databases must be an integer, not 'many'"]),
    (["--max-bulk", "0"], ["--max-bulk must be at least 1048576"]),
    (["--max-clients", "0"], ["--max-clients must be at least 1"]),
    (["--flush-interval", "nan"], ["--flush-interval must be a number of "
                                   "seconds, not 'nan'"]),
    (["--timeout", "-1"], ["--timeout must not be negative"]),
    (["--pubsub-output-limit", "1 2"], ["--pubsub-output-limit must be "
                                        "HARD SOFT SECONDS"]),
    (["--log-level", "loud"], ["--log-level must be one of"]),
    (["--backend", "nowhere"], ["--backend must be memory or"]),
    (["--password-file", "/nonexistent/pw"],
     ["cannot read --password-file /nonexistent/pw"]),
    (["--listen", "ssl:0:privateKey=/nonexistent/k.pem:"
      "certKey=/nonexistent/c.pem"], ["can't read /nonexistent/"]),
    (["--web", "tcp:70000"], ["--web tcp:70000", "out of range"]),
])
def test_badValues(tmp_path, mode, args, words):
    """
    Each option's refusal of a bad value (a number out of range or not a
    number, a size, a TLS file that isn't there...) is one or two lines
    naming the option, with a non-zero status and no traceback.
    """
    result = runTwistd(tmp_path, mode, "--port", "tcp:0:interface=%s"
                       % (HOST,), *args)
    assertRefused(result, *words)


@pytest.mark.parametrize("mode", MODES)
def test_dataDirUnusable(tmp_path, mode):
    """
    A C{--data-dir} that can't be made (inside a file) is named with the
    system's reason.
    """
    path = tmp_path / "file"
    path.write_text("not a directory")
    result = runTwistd(tmp_path, mode, "--port", "tcp:0:interface=%s"
                       % (HOST,), "--data-dir", str(path / "data"))
    assertRefused(result, "--data-dir %s can't be used: Not a directory"
                  % (path / "data",))


@pytest.mark.parametrize("mode", MODES)
def test_dataDirIsAFile(tmp_path, mode):
    """
    A C{--data-dir} that is a file is named.
    """
    path = tmp_path / "file"
    path.write_text("not a directory")
    result = runTwistd(tmp_path, mode, "--port", "tcp:0:interface=%s"
                       % (HOST,), "--data-dir", str(path))
    assertRefused(result, "--data-dir %s is not a directory" % (path,))


@pytest.mark.parametrize("mode", MODES)
def test_version(tmp_path, mode):
    """
    C{twistd kvstore --version} prints kvtwist's and Twisted's versions
    and starts nothing.
    """
    import twisted

    from kvtwist import __version__
    result = runTwistd(tmp_path, mode, "--version")
    text = result.stdout.decode()
    assert result.returncode == 0, text
    assert text.startswith("kvtwist %s (Twisted %s, " % (
        __version__, twisted.__version__)), text
    assert len(text.splitlines()) == 1
    assert not (tmp_path / "data").exists()
    assert not os.path.exists(tmp_path / "twistd.pid")


@pytest.mark.parametrize("mode", MODES)
def test_unixSocketDirectoryMissing(tmp_path, mode):
    """
    A UNIX socket in a directory that doesn't exist is named.
    """
    path = tmp_path / "missing" / "kv.sock"
    result = runTwistd(tmp_path, mode, "--port", "tcp:0:interface=%s"
                       % (HOST,), "--listen", "unix:%s" % (path,))
    assertRefused(result, "--listen unix:%s" % (path,),
                  "its directory %s is missing" % (path.parent,))


@pytest.mark.parametrize("mode", MODES)
def test_dataDirDamaged(tmp_path, makeServer, mode):
    """
    A data directory the store can't be recovered from (found as the
    server starts, after twistd has daemonized) is named whole on the
    terminal, with the way out, not cut off at 100 bytes.
    """
    server = makeServer()
    with server.textClient() as client:
        assert client.command("SET k v").startswith("Added key 'k'")
    server.stop()
    data = tmp_path / "data"
    os.rename(server.dataDir, str(data))
    damaged = sorted(data.glob("kvtwist-*.aof"))[0]
    content = damaged.read_bytes()
    damaged.write_bytes(content[:len(content) // 2] + b"garbage" * 50)
    result = runTwistd(tmp_path, mode, "--port", "tcp:0:interface=%s"
                       % (HOST,), "--data-dir", str(data))
    text = result.stdout.decode("utf-8", "replace")
    assert result.returncode != 0, text
    assert "Traceback" not in text, text
    first = text.splitlines()[0]
    assert first.startswith("twistd kvstore: log %s is corrupt" % (damaged,))
    assert first.endswith("not deleted."), first
    assert "--load-damaged" in first
    if mode == "daemon":
        # twistd's own report follows, short enough to be whole.
        assert "could not start: the reason is above, and in the log'" \
            in text, text
    else:
        assert len(text.splitlines()) == 1, text
    assert not (tmp_path / "twistd.pid").exists()


def test_startFailsForegroundNoTraceback(tmp_path, makeServer):
    """
    A refusal found as the tree starts (after twistd has started: here
    data of database 5 and C{--databases 2}), in the foreground with the
    log on the terminal as C{twistd -n kvstore} has it: the reason, and
    no traceback of twistd's after it; status 1, the pid file removed.
    """
    server = makeServer()
    r = server.redis()
    r.execute_command("SELECT", "5")
    r.set("k", "v")
    r.close()
    server.stop()
    result = runTwistd(tmp_path, "foreground", "--port", "tcp:0:interface=%s"
                       % (HOST,), "--data-dir", server.dataDir,
                       "--databases", "2", logfile=False)
    text = result.stdout.decode("utf-8", "replace")
    assert result.returncode == 1, text
    assert "Traceback" not in text, text
    assert "twistd kvstore: log " in text, text
    assert "an op of database 5, but this server has 2 databases" in text
    assert not (tmp_path / "twistd.pid").exists()
