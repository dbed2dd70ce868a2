"""
End-to-end tests of the web interface: the real C{twistd kvstore --web}
process, driven by headless Chromium (Debian's C{chromium}) through
Playwright's Python API, which drives that browser (it downloads none).

They load the status page and watch its counts change as a client comes
and goes, find a key with the key browser and edit it (keeping its TTL),
page through the keys matching a filter, check that a value with markup
shows as text and one that isn't text shows escaped, get the 404 page, and
log in to a server with a password; see each key's type in the key
browser, edit a hash's field, add a set's member and change a sorted set's
score.

The status and hash tests save screenshots; with
C{KVTWIST_UPDATE_SCREENSHOT=1} they also replace
C{docs/screenshot-status.png} and C{docs/screenshot-hash.png}, the
README's pictures.

Skipped, with the reason, where Chromium or Playwright is missing.
"""

import os
import re
import shutil
import socket

import pytest

from tests.harness import HOST, waitFor

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("chromium is not installed (apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="playwright is not installed (pip install playwright)")

#: The flags the browser runs with: headless, no sandbox (root in CI), and
#: nothing that reaches out to the network.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]

#: Milliseconds the browser side waits for something to appear.
WAIT_MS = 15000

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "docs")


def webAddress(server) -> str:
    """
    The base URL of a started server's web interface, from its log line
    C{Web interface listening on HOST:PORT}.
    """
    pattern = re.compile(r"Web interface listening on ([\d.]+):(\d+)")

    def found():
        return pattern.search(server.logSinceStart())
    match = waitFor(found, what="the web interface to listen")
    return "http://%s:%s" % (match.group(1), match.group(2))


@pytest.fixture
def browser(tmp_path):
    """
    A Chromium page in a fresh profile; every dialog (C{alert}) it opens
    is recorded in C{page.dialogs} and dismissed.
    """
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM,
            headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900})
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.dialogs = []

            def onDialog(dialog):
                page.dialogs.append(dialog.message)
                dialog.dismiss()
            page.on("dialog", onDialog)
            yield page
        finally:
            context.close()


@pytest.fixture
def webServer(makeServer):
    """
    A started server with the web interface on a free loopback port, and
    its base URL: C{(server, url)}.
    """
    server = makeServer(["--web", "tcp:0:interface=%s" % (HOST,)])
    return server, webAddress(server)


def field(page, name: str):
    """
    The locator of a live figure of the status page.
    """
    return page.locator('[data-field="%s"]' % (name,))


def chartPoints(page) -> int:
    """
    How many samples the status chart draws.
    """
    return page.evaluate(
        "() => { const l = document.querySelector('#chart polyline');"
        " return l ? l.points.numberOfItems : 0; }")


def busyHistory(server, page, clients):
    """
    For the README's picture: over a dozen samples, let clients come and
    go and run commands, so the chart has something to show.  Waits on the
    page's own updates, sample by sample.

    @return: the clients still open, and how many were opened.
    """
    opened = 0
    for target in (4, 6, 5, 8, 9, 7, 6, 8, 10, 7, 5, 6):
        while len(clients) > target:
            clients.pop().close()
        while len(clients) < target:
            clients.append(socket.create_connection((HOST, server.port),
                                                    timeout=10))
            opened += 1
        for c in clients:
            c.sendall(b"PING\r\n" * 20)
        seen = chartPoints(page)
        page.wait_for_function(
            "n => { const l = document.querySelector('#chart polyline');"
            " return l && l.points.numberOfItems > n; }", arg=seen)
    return clients, opened


def test_statusPageLive(webServer, browser, tmp_path):
    """
    The status page shows the server's figures and updates them without a
    reload: clients connecting and leaving show in the connected count and
    as neutral disconnect bars; a client the server closes (a protocol
    error) counts as closed by the server and is drawn apart; the
    commands per second and memory charts are drawn.
    """
    server, url = webServer
    seed = server.redis(protocol=2)
    seed.mset({"user:%d" % (i,): "name %d" % (i,) for i in range(1, 26)})
    seed.rpush("queue:jobs", "a", "b", "c")
    seed.close()
    expect = sync_api.expect
    browser.goto(url + "/")
    expect(browser).to_have_title(re.compile("Status"))
    expect(field(browser, "clients.closedByServer")).to_have_text("0")
    expect(field(browser, "clients.connected")).to_have_text("0")
    expect(field(browser, "keys")).to_have_text("26")

    clients = [socket.create_connection((HOST, server.port), timeout=10)
               for _ in range(3)]
    try:
        clients[0].sendall(b"PING\r\n")
        assert b"PONG" in clients[0].recv(100)
        expect(field(browser, "clients.connected")).to_have_text("3")
        browser.locator("#chart svg polyline").wait_for()
        if os.environ.get("KVTWIST_UPDATE_SCREENSHOT") == "1":
            clients, _ = busyHistory(server, browser, clients)
        shot = tmp_path / "status.png"
        browser.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if os.environ.get("KVTWIST_UPDATE_SCREENSHOT") == "1":
            os.makedirs(DOCS, exist_ok=True)
            shutil.copyfile(str(shot),
                            os.path.join(DOCS, "screenshot-status.png"))
    finally:
        for c in clients:
            c.close()
    expect(field(browser, "clients.connected")).to_have_text("0")
    browser.locator("#chart rect.disconnects").first.wait_for()
    expect(field(browser, "clients.closedByServer")).to_have_text("0")
    assert browser.locator("#chart rect.closed").count() == 0

    bad = socket.create_connection((HOST, server.port), timeout=10)
    bad.sendall(b"*1\r\n$x\r\n")
    assert bad.recv(200).startswith(b"-ERR Protocol error")
    bad.close()
    expect(field(browser, "clients.closedByServer")).to_have_text("1")
    browser.locator("#chart rect.closed").first.wait_for()
    browser.locator("#chart-commands svg polyline").wait_for()
    browser.locator("#chart-memory svg polyline").wait_for()
    assert browser.dialogs == []


def test_findAndEditKey(webServer, browser):
    """
    The key browser finds a key by pattern; its page shows the value, and
    the edit form changes it in the server.
    """
    server, url = webServer
    for i in range(60):
        server.rawCommand(b"SET", b"filler:%d" % (i,), b"x")
    server.rawCommand(b"SET", b"greeting", b"hello")
    expect = sync_api.expect
    browser.goto(url + "/keys")
    browser.fill("#pattern", "greet*")
    browser.click("form.search button")
    browser.click("a.key:text-is('greeting')")
    expect(browser).to_have_url(url + "/keys/greeting")
    expect(browser.locator("#value")).to_have_text("hello")

    browser.fill("#edit-value", "hello from the browser")
    browser.click("#save")
    expect(browser).to_have_url(url + "/keys/greeting?done=saved")
    expect(browser.locator("#value")).to_have_text("hello from the browser")
    assert server.rawCommand(b"GET", b"greeting") == \
        b"hello from the browser"

    browser.fill("input[name=seconds]", "600")
    browser.click("text=Set TTL")
    expect(browser.locator("#ttl")).to_have_text(re.compile(r"^(9|10) min"))
    assert 590 <= int(server.rawCommand(b"TTL", b"greeting")) <= 600


def test_pushAndPopList(webServer, browser):
    """
    A missing key's page starts a list; the list's page pushes at either
    end and pops, and the server's list follows.
    """
    server, url = webServer
    expect = sync_api.expect
    browser.goto(url + "/keys/jobs")
    browser.fill("#push-value", "second")
    browser.click("#push")
    expect(browser).to_have_url(url + "/keys/jobs?done=pushed")
    browser.fill("#push-value", "first")
    browser.select_option("select[name=end]", "left")
    browser.click("#push")
    expect(browser.locator("#value li")).to_have_text(["first", "second"])
    client = server.redis(protocol=2)
    assert client.lrange("jobs", 0, -1) == [b"first", b"second"]
    browser.click("#pop-right")
    expect(browser).to_have_url(url + "/keys/jobs?done=popped")
    expect(browser.locator("#value li")).to_have_text(["first"])
    assert client.lrange("jobs", 0, -1) == [b"first"]
    client.close()


def test_markupShownAsText(webServer, browser):
    """
    A value holding a script shows as text on the key page, and runs
    nothing.
    """
    server, url = webServer
    script = b"<script>alert(1)</script>"
    server.rawCommand(b"SET", b"xss", script)
    server.rawCommand(b"RPUSH", b"xsslist", b"<img src=x onerror=alert(2)>")
    browser.goto(url + "/keys/xss")
    sync_api.expect(browser.locator("#value")).to_have_text(script.decode())
    browser.goto(url + "/keys/xsslist")
    sync_api.expect(browser.locator("#value li")).to_have_text(
        "<img src=x onerror=alert(2)>")
    browser.goto(url + "/keys?pattern=xss*")
    sync_api.expect(browser.locator("a.key")).to_have_count(2)
    assert browser.dialogs == []
    assert browser.locator("#value img").count() == 0


def test_saveKeepsTTL(webServer, browser):
    """
    Saving a new value with the TTL left alone keeps the key's TTL (the
    form says "Keep it", checked); "Remove it" removes it; "Set it to"
    sets a new one.
    """
    server, url = webServer
    expect = sync_api.expect
    server.rawCommand(b"SET", b"session", b"old", b"EX", b"3600")
    browser.goto(url + "/keys/session")
    expect(browser.locator("#ttlmode-keep")).to_be_checked()
    expect(browser.locator("#ttl-choice")).to_contain_text("expires in")
    browser.fill("#edit-value", "new")
    browser.click("#save")
    expect(browser).to_have_url(url + "/keys/session?done=saved")
    expect(browser.locator("#value")).to_have_text("new")
    assert server.rawCommand(b"GET", b"session") == b"new"
    assert 3500 < int(server.rawCommand(b"TTL", b"session")) <= 3600

    browser.fill("#edit-ttl", "120")
    browser.click("#ttlmode-set")
    browser.click("#save")
    expect(browser.locator("#ttl")).to_have_text(re.compile(r"^(1 min|2 min)"))
    assert 110 < int(server.rawCommand(b"TTL", b"session")) <= 120

    browser.click("#ttlmode-remove")
    browser.click("#save")
    expect(browser.locator("#ttl")).to_have_text("no expiry")
    assert int(server.rawCommand(b"TTL", b"session")) == -1


def test_filteredCountAndPaging(webServer, browser):
    """
    A filter shows how many keys match; the pages of matches go forward
    and back, numbered, each key once.
    """
    server, url = webServer
    expect = sync_api.expect
    client = server.redis(protocol=2)
    pipe = client.pipeline(transaction=False)
    for i in range(120):
        pipe.set("user:%03d" % (i,), "x")
    for i in range(30):
        pipe.set("other:%d" % (i,), "x")
    pipe.execute()
    client.close()
    browser.goto(url + "/keys")
    expect(browser.locator("#matching")).to_have_text("150 keys")
    browser.fill("#pattern", "user:*")
    browser.click("form.search button")
    expect(browser.locator("#matching")).to_have_text("120 matching")
    expect(browser.locator("#page-number")).to_have_text("Page 1")
    expect(browser.locator("#previous-page")).to_have_count(0)
    seen = []
    for number in (2, 3):
        seen.append(browser.locator("a.key").all_text_contents())
        browser.click("#next-page")
        expect(browser.locator("#page-number")).to_have_text(
            "Page %d" % (number,))
    seen.append(browser.locator("a.key").all_text_contents())
    expect(browser.locator("#next-page")).to_have_count(0)
    assert sorted(sum(seen, [])) == ["user:%03d" % (i,) for i in range(120)]
    browser.click("#previous-page")
    expect(browser.locator("#page-number")).to_have_text("Page 2")
    assert browser.locator("a.key").all_text_contents() == seen[1]
    expect(browser.locator("#matching")).to_have_text("120 matching")


def test_notFoundAndBinary(webServer, browser):
    """
    An unknown URL gets the site's own 404 page (its header and
    navigation, the path named); a value that isn't text is shown with
    escapes, not replacement characters.
    """
    server, url = webServer
    expect = sync_api.expect
    response = browser.goto(url + "/no/such/page")
    assert response.status == 404
    expect(browser.locator("h1")).to_have_text("Not found")
    expect(browser.locator("#missing-path")).to_have_text("/no/such/page")
    expect(browser.locator("header .brand")).to_be_visible()
    browser.click("nav.nav a:text-is('Keys')")
    expect(browser).to_have_url(url + "/keys")

    server.rawCommand(b"SET", b"blob", b"\x00\xffok\\")
    browser.goto(url + "/keys/blob")
    expect(browser.locator("#value")).to_have_text("\\x00\\xffok\\\\")
    assert "\ufffd" not in browser.locator("#value").text_content()
    browser.click("#save")
    expect(browser).to_have_url(url + "/keys/blob?done=saved")
    assert server.rawCommand(b"GET", b"blob") == b"\x00\xffok\\"


def test_login(makeServer, browser):
    """
    With a password, the page asks for it; a wrong one is refused, the
    right one opens the status page.
    """
    server = makeServer(["--web", "tcp:0:interface=%s" % (HOST,),
                         "--requirepass", "s3cret"])
    url = webAddress(server)
    expect = sync_api.expect
    browser.goto(url + "/keys")
    expect(browser).to_have_url(re.compile(r"/login\?next="))
    browser.fill("#password", "wrong")
    browser.click("button[type=submit]")
    expect(browser.locator("p.error")).to_have_text("Wrong password.")
    browser.fill("#password", "s3cret")
    browser.click("main button[type=submit]")
    expect(browser).to_have_url(url + "/keys")
    browser.click("text=Status")
    expect(field(browser, "clients.connected")).to_have_text("0")


def rowOf(page, cell: str, text: str):
    """
    The locator of the table row whose C{cell} (C{field} or C{member})
    cell reads exactly C{text}.
    """
    return page.locator("tr:has(td.%s:text-is('%s'))" % (cell, text))


def test_keysPageShowsTypes(webServer, browser):
    """
    The key browser shows each key's type: string, list, hash, set and
    sorted set.
    """
    server, url = webServer
    client = server.redis(protocol=2)
    client.set("t:string", "v")
    client.rpush("t:list", "a")
    client.hset("t:hash", "f", "v")
    client.sadd("t:set", "m")
    client.zadd("t:zset", {"m": 1})
    client.close()
    browser.goto(url + "/keys?pattern=t:*")
    expect = sync_api.expect
    expect(browser.locator("#matching")).to_have_text("5 matching")
    for kind in ("string", "list", "hash", "set", "zset"):
        row = browser.locator("tr:has(a.key:text-is('t:%s'))" % (kind,))
        expect(row.locator("span.tag")).to_have_text(kind)


def test_editHashField(webServer, browser, tmp_path):
    """
    A hash's page shows its field table; a field's edit link fills the
    form, and saving changes that field in the server (a multi-line value
    saved unchanged stays byte for byte the same); a field's delete button
    deletes it.  With C{KVTWIST_UPDATE_SCREENSHOT=1} the page is the
    README's C{docs/screenshot-hash.png}.
    """
    server, url = webServer
    client = server.redis(protocol=2)
    client.hset("user:1000", mapping={
        "name": "Ada Lovelace", "email": "ada@example.org", "born": "1815",
        "notes": "Wrote the first program (1843).\nBernoulli numbers.",
        "\xe9t\xe9": "caf\xe9"})
    client.expire("user:1000", 86400)
    expect = sync_api.expect
    browser.goto(url + "/keys/user:1000")
    expect(browser.locator("#type")).to_have_text("hash")
    expect(browser.locator("#length")).to_have_text("5 fields")
    expect(rowOf(browser, "field", "name").locator("td.value")) \
        .to_have_text("Ada Lovelace")
    shot = tmp_path / "hash.png"
    browser.screenshot(path=str(shot), full_page=True)
    if os.environ.get("KVTWIST_UPDATE_SCREENSHOT") == "1":
        os.makedirs(DOCS, exist_ok=True)
        shutil.copyfile(str(shot), os.path.join(DOCS, "screenshot-hash.png"))

    rowOf(browser, "field", "email").locator("a.edit").click()
    expect(browser.locator("#field-name")).to_have_value("email")
    expect(browser.locator("#field-value")).to_have_value("ada@example.org")
    browser.fill("#field-value", "ada@analytical.engine")
    browser.click("#set-field")
    expect(browser).to_have_url(re.compile(r"done=fieldset$"))
    expect(rowOf(browser, "field", "email").locator("td.value")) \
        .to_have_text("ada@analytical.engine")
    assert client.hget("user:1000", "email") == b"ada@analytical.engine"

    rowOf(browser, "field", "notes").locator("a.edit").click()
    browser.click("#set-field")
    expect(browser).to_have_url(re.compile(r"done=fieldset$"))
    assert client.hget("user:1000", "notes") == \
        b"Wrote the first program (1843).\nBernoulli numbers."
    rowOf(browser, "field", "\xe9t\xe9").locator("a.edit").click()
    browser.fill("#field-value", "th\xe9")
    browser.click("#set-field")
    expect(rowOf(browser, "field", "\xe9t\xe9").locator("td.value")) \
        .to_have_text("th\xe9")
    assert client.hget("user:1000", "\xe9t\xe9") == "th\xe9".encode()

    rowOf(browser, "field", "born").locator("button").click()
    expect(browser).to_have_url(re.compile(r"done=fielddeleted$"))
    expect(rowOf(browser, "field", "born")).to_have_count(0)
    assert client.hexists("user:1000", "born") is False
    assert 86000 < client.ttl("user:1000") <= 86400
    client.close()


def test_addSetMember(webServer, browser):
    """
    A set's page lists its members; the add form adds one and a row's
    remove button removes it, in the server too.
    """
    server, url = webServer
    client = server.redis(protocol=2)
    client.sadd("tags:post:7", "python", "twisted")
    expect = sync_api.expect
    browser.goto(url + "/keys/tags:post:7")
    expect(browser.locator("#type")).to_have_text("set")
    expect(browser.locator("td.member")).to_have_count(2)
    browser.fill("#member-name", "redis")
    browser.click("#add-member")
    expect(browser.locator("p.notice")).to_have_text("Member added.")
    expect(rowOf(browser, "member", "redis")).to_have_count(1)
    assert client.smembers("tags:post:7") == {b"python", b"twisted",
                                              b"redis"}
    rowOf(browser, "member", "python").locator("button").click()
    expect(browser.locator("p.notice")).to_have_text("Member removed.")
    assert client.smembers("tags:post:7") == {b"twisted", b"redis"}
    client.close()


def test_changeSortedSetScore(webServer, browser):
    """
    A sorted set's page lists its members lowest score first; changing a
    member's score in its row moves it, in the page and the server; the
    add form adds a member.
    """
    server, url = webServer
    client = server.redis(protocol=2)
    client.zadd("leaderboard", {"alice": 4200, "bob": 3900, "carol": 5120})
    expect = sync_api.expect
    browser.goto(url + "/keys/leaderboard")
    expect(browser.locator("#type")).to_have_text("zset")
    expect(browser.locator("td.member")).to_have_text(
        ["bob", "alice", "carol"])
    row = rowOf(browser, "member", "bob")
    row.locator("input[name=score]").fill("6000.5")
    row.locator("button:text-is('Save')").click()
    expect(browser.locator("p.notice")).to_have_text("Score saved.")
    expect(browser.locator("td.member")).to_have_text(
        ["alice", "carol", "bob"])
    expect(rowOf(browser, "member", "bob").locator("input[name=score]")) \
        .to_have_value("6000.5")
    assert client.zscore("leaderboard", "bob") == 6000.5
    browser.fill("#zmember-name", "dave")
    browser.fill("#zmember-score", "-inf")
    browser.click("#add-zmember")
    expect(browser.locator("td.member")).to_have_text(
        ["dave", "alice", "carol", "bob"])
    assert client.zscore("leaderboard", "dave") == float("-inf")
    client.close()
