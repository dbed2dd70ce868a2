"""
End-to-end tests of the text protocol (what a person types on telnet or
nc) against a real C{twistd -n kvstore}: the threaded Python seed's session
and replies, exactly, and the block framing of multi-line replies.
"""


def test_seedSession(server):
    """
    The seed's telnet session: SET answers Added then Updated, the value is
    the rest of the line with its spaces kept, GET shows it alone, REMOVE
    removes it, a missing key is reported, and quit says goodbye and closes.
    """
    with server.textClient() as c:
        assert c.command("SET mykey myvalue") == \
            "Added key 'mykey' with value 'myvalue'"
        assert c.command("SET mykey other value") == \
            "Updated key 'mykey' with value 'other value'"
        assert c.command("SET greeting hello  world") == \
            "Added key 'greeting' with value 'hello  world'"
        assert c.command("GET greeting") == "hello  world"
        assert c.command("GET mykey") == "other value"
        assert c.command("GET nosuch") == "Key 'nosuch' not found."
        assert c.command("REMOVE mykey") == "Removed key 'mykey'."
        assert c.command("REMOVE mykey") == "Key 'mykey' not found."
        assert c.command("GET mykey") == "Key 'mykey' not found."
        assert c.command("quit") == "Goodbye!"
        assert c.readUntilClosed() == b""


def test_bareNewlinesAndCase(server):
    """
    Lines may end in a bare LF (as nc sends them) and command words are
    case-insensitive.
    """
    with server.textClient() as c:
        c.sendLine("set k v", end=b"\n")
        assert c.readLine() == "Added key 'k' with value 'v'"
        c.sendLine("Get k", end=b"\n")
        assert c.readLine() == "v"
        c.sendLine("dElEtE k", end=b"\n")
        assert c.readLine() == "Removed key 'k'."


def test_aliases(server):
    """
    DEL and DELETE are REMOVE; EXIT is quit.
    """
    with server.textClient() as c:
        c.command("SET a 1")
        c.command("SET b 2")
        assert c.command("DEL a") == "Removed key 'a'."
        assert c.command("DELETE b") == "Removed key 'b'."
        assert c.command("DELETE b") == "Key 'b' not found."
        assert c.command("EXIT") == "Goodbye!"
        assert c.readUntilClosed() == b""


def test_printBlockFraming(server):
    """
    PRINT is a block: one C{key: value} line per pair, then a lone C{.};
    a line that starts with a dot is dot-stuffed; an empty store prints
    C{Store is empty.}.  Single-line replies after it are unaffected.
    """
    with server.textClient() as c:
        assert c.blockCommand("PRINT") == ["Store is empty."]
        c.command("SET alpha one")
        c.command("SET .hidden dotted value")
        c.sendLine("PRINT")
        raw = []
        while True:
            line = c.readLine()
            raw.append(line)
            if line == ".":
                break
        assert sorted(raw[:-1]) == ["..hidden: dotted value", "alpha: one"]
        assert sorted(c.blockCommand("PRINT")) == [
            ".hidden: dotted value", "alpha: one"]
        assert c.command("GET alpha") == "one"


def test_pipelinedPaste(server):
    """
    Many lines arriving in one packet (a paste into telnet) are answered in
    order, one reply each.
    """
    lines = ["SET k%d value %d" % (i, i) for i in range(200)]
    lines += ["GET k%d" % (i,) for i in range(200)]
    with server.textClient() as c:
        c.send("".join(line + "\r\n" for line in lines))
        for i in range(200):
            assert c.readLine() == "Added key 'k%d' with value 'value %d'" \
                % (i, i)
        for i in range(200):
            assert c.readLine() == "value %d" % (i,)


def test_errorsKeepConnection(server):
    """
    An unknown command and a wrong number of arguments get one line
    starting with ERR that names the problem, and the connection goes on.
    """
    with server.textClient() as c:
        reply = c.command("FROBNICATE x y")
        assert reply.startswith("ERR unknown command")
        assert "FROBNICATE" in reply.upper()
        reply = c.command("GET")
        assert reply.startswith("ERR wrong number of arguments")
        assert "get" in reply.lower()
        assert c.command("SET still here") == \
            "Added key 'still' with value 'here'"


def test_seedExtras(server):
    """
    The gevent seeds' FLUSH, MSET and MGET, and EXISTS, KEYS and INCR from
    their wish lists.
    """
    with server.textClient() as c:
        assert c.command("MSET a 1 b 2 c 3") == "OK"
        assert c.blockCommand("MGET a b nosuch") == ["1", "2", "(nil)"]
        assert c.command("EXISTS a nosuch") == "1"
        assert sorted(c.blockCommand("KEYS *")) == ["a", "b", "c"]
        assert c.command("INCR a") == "2"
        assert c.command("INCR counter") == "1"
        assert c.command("FLUSH") == "OK"
        assert c.blockCommand("PRINT") == ["Store is empty."]
        assert c.blockCommand("KEYS *") == []


def test_infoBlock(server):
    """
    INFO is a block of Redis-style C{field:value} lines including the
    client counts, the number of keys, uptime, commands processed and the
    persistence state.
    """
    with server.textClient() as c:
        c.command("SET k v")
        lines = c.blockCommand("INFO")
    fields = dict(line.split(":", 1) for line in lines
                  if ":" in line and not line.startswith("#"))
    assert fields["connected_clients"] == "1"
    assert "dropped_clients" in fields
    assert "uptime_in_seconds" in fields
    assert int(fields["total_commands_processed"]) >= 1
    assert "keys=1" in fields["db0"]
    assert any(line == "# Persistence" for line in lines)


def test_inlinePing(server):
    """
    A bare PING line is answered C{+PONG}, as Redis's inline protocol does
    (redis-benchmark's PING_INLINE relies on it).
    """
    with server.textClient() as c:
        assert c.command("PING") == "+PONG"


def test_tooLongLine(server):
    """
    A text line over 64 KiB gets Redis's inline error and the connection
    is closed; the server goes on serving others.
    """
    with server.textClient() as c:
        try:
            c.send(b"SET big " + b"x" * (70 * 1024) + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = c.readUntilClosed()
        assert data == b"-ERR Protocol error: too big inline request\r\n"
    with server.textClient() as c:
        assert c.command("GET big") == "Key 'big' not found."


def test_quitClosesAfterPendingReplies(server):
    """
    Lines sent before quit in the same packet are all answered before the
    goodbye, and nothing after quit is run.
    """
    with server.textClient() as c:
        c.send(b"SET a 1\r\nGET a\r\nquit\r\nSET b 2\r\n")
        data = c.readUntilClosed()
    assert data == (b"Added key 'a' with value '1'\r\n1\r\nGoodbye!\r\n")
    with server.textClient() as c:
        assert c.command("GET b") == "Key 'b' not found."


def test_keysWithoutPattern(server):
    """
    KEYS takes an optional pattern in the text protocol ("KEYS
    [pattern]"): without one it lists every key, as a block.
    """
    with server.textClient() as c:
        c.command("SET a 1")
        c.command("SET b 2")
        assert sorted(c.blockCommand("KEYS")) == ["a", "b"]
        assert c.blockCommand("KEYS a*") == ["a"]


def test_valuesShownSafely(server):
    """
    What a value holds can't act on the terminal that shows it: the ESC of
    C{SET esc "\\x1b[31mRED"} comes back as C{\\x1b}; a backslash and an n
    differ from a line break; bytes that aren't UTF-8 are shown as
    C{\\xHH}.  redis-py reads back exactly what was stored.
    """
    with server.textClient() as c:
        c.sendLine('SET esc "\\x1b[31mRED"')
        assert c.readLineBytes() == \
            b"Added key 'esc' with value '\\x1b[31mRED'"
        c.sendLine("GET esc")
        assert c.readLineBytes() == b"\\x1b[31mRED"
        c.sendLine("SET literal a\\nb")
        c.readLineBytes()
        c.sendLine('SET broken "a\\nb"')
        c.readLineBytes()
        c.sendLine("GET literal")
        assert c.readLineBytes() == b"a\\\\nb"
        c.sendLine("GET broken")
        assert c.readLineBytes() == b"a\\nb"
        c.sendLine('SET bin "\\xff\\x00ok"')
        c.readLineBytes()
        c.sendLine("GET bin")
        assert c.readLineBytes() == b"\\xff\\x00ok"
    r = server.redis(protocol=2)
    try:
        assert r.get("esc") == b"\x1b[31mRED"
        assert r.get("literal") == b"a\\nb"
        assert r.get("broken") == b"a\nb"
        assert r.get("bin") == b"\xff\x00ok"
    finally:
        r.close()


def test_printListVersusString(server):
    """
    In C{PRINT}, a list and a string that looks like one differ.
    """
    with server.textClient() as c:
        c.command("RPUSH l x y")
        c.command("SET s [x, y]")
        assert sorted(c.blockCommand("PRINT")) == [
            "l: ['x', 'y']", "s: '[x, y]'"]


def test_aliasErrorsNameTheWord(server):
    """
    C{REMOVE} and C{DELETE} with no key name themselves in the error, not
    C{del}.
    """
    with server.textClient() as c:
        assert c.command("REMOVE") == \
            "ERR wrong number of arguments for 'remove' command"
        assert c.command("delete") == \
            "ERR wrong number of arguments for 'delete' command"
        assert c.command("DEL") == \
            "ERR wrong number of arguments for 'del' command"


def test_setSkipsBlanksBeforeValue(server):
    """
    C{SET k  v} (two spaces) stores C{v}; a quoted value keeps its spaces.
    """
    with server.textClient() as c:
        assert c.command("SET k  v") == "Added key 'k' with value 'v'"
        assert c.command("GET k") == "v"
        assert c.command('SET q "  v  "') == "Added key 'q' with value '  v  '"
        assert c.command("GET q") == "  v  "


def test_blockCommandErrorIsOneLine(server):
    """
    C{MGET} with no key (and any block command that fails) answers one
    error line, with no stray C{.} line after it.
    """
    with server.textClient() as c:
        c.send(b"MGET\r\nKEYS a b\r\nPING\r\n")
        assert c.readLine() == \
            "ERR wrong number of arguments for 'mget' command"
        assert c.readLine().startswith("ERR")
        assert c.readLine() == "+PONG"


def test_helpFromTheTable(server):
    """
    C{HELP} lists every command with its syntax and summary; C{HELP SET}
    gives SET's and how the text protocol reads its value; C{HELP PING}
    says a bare PING line answers +PONG (and it does).
    """
    with server.textClient() as c:
        lines = c.blockCommand("HELP")
        assert any(line.startswith("  SET key value [NX | XX]")
                   for line in lines)
        assert any(line.startswith("  LRANGE key start stop")
                   for line in lines)
        assert len(lines) > 60
        lines = c.blockCommand("HELP SET")
        assert lines[0].startswith("SET key value")
        assert "rest of the line" in "\n".join(lines)
        assert "+PONG" in "\n".join(c.blockCommand("HELP PING"))
        assert c.command("PING") == "+PONG"
