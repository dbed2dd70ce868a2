# -*- test-case-name: kvtwist.test.test_web -*-
"""
The web interface's pages, rendered on the server with
L{twisted.web.template} (which escapes every value), and its root resource.

    /                 status (live: polls /api/status)
    /clients          connected clients (live: polls /api/clients)
    /keys?pattern=    the key browser, a page at a time (SCAN)
    /keys/KEY         one key; POST to change it
    /login, /logout   when the server has a password
    /api/...          the JSON API (L{kvtwist.web.api})
    /metrics          Prometheus (L{kvtwist.web.metrics})
    /static/...       style sheet and script

Pages work without JavaScript; the script only keeps the status and
clients pages up to date and draws the chart.  Changes are POSTs carrying
the session's CSRF token, answered by a redirect (303) to a page.
"""

import os
from typing import Optional
from urllib.parse import quote, urlencode

from twisted.internet.defer import inlineCallbacks, maybeDeferred, succeed
from twisted.web.resource import Resource
from twisted.web.static import File
from twisted.web.template import Tag, flattenString, tags

from kvtwist import __version__
from kvtwist.web.api import APIResource
from kvtwist.dialects.text import unescape
from kvtwist.web.data import CommandFailed, shown, text
from kvtwist.web.fmt import count, duration, rate, size, ttl
from kvtwist.web.metrics import MetricsResource, makeRegistry
from kvtwist.web.respond import answerLater, parseSeconds, parseTTL, secure
from kvtwist.web.session import LoginThrottled, Sessions

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")

_NOTICES = {
    b"saved": "Saved.",
    b"expired": "Time to live set.",
    b"persisted": "Time to live removed.",
    b"deleted": "Key deleted.",
    b"pushed": "Pushed.",
    b"popped": "Popped.",
    b"empty": "There was nothing to pop.",
    b"loggedout": "Logged out.",
}


# -- links -------------------------------------------------------------------

def keyURL(key: bytes) -> str:
    """
    The page of a key: its bytes percent-encoded as one path segment.
    """
    return "/keys/" + quote(key, safe="")


def keysURL(pattern: bytes = b"*", cursor: int = 0, back=()) -> str:
    """
    A page of the key browser: the keys of C{pattern} from SCAN cursor
    C{cursor}; C{back} holds the cursors of the pages before it (SCAN
    can't go backwards, so the way back travels in the link).
    """
    query = []
    if pattern and pattern != b"*":
        query.append(("pattern", pattern))
    if cursor:
        query.append(("cursor", str(cursor)))
    if back:
        query.append(("back", ",".join(str(c) for c in back)))
    return "/keys" + ("?" + urlencode(query) if query else "")


def _cursors(raw: bytes):
    """
    The C{back} trail of a key browser link: cursors, comma-separated
    (whatever isn't one is dropped).
    """
    out = []
    for part in raw.split(b","):
        try:
            cursor = int(part)
        except ValueError:
            continue
        if cursor >= 0:
            out.append(cursor)
    return out[-1000:]


def _arg(request, name: bytes, default: bytes = b"") -> bytes:
    return (request.args.get(name) or [default])[0]


def _data(**attributes):
    return {"data-" + k: v for k, v in attributes.items()}


# -- layout ------------------------------------------------------------------

_NAV = [("status", "/", "Status"), ("clients", "/clients", "Clients"),
        ("keys", "/keys", "Keys"), ("metrics", "/metrics", "Metrics")]


def csrfField(session):
    """
    The hidden form field carrying the session's CSRF token.
    """
    return tags.input(type="hidden", name="csrf", value=session.csrf)


def layout(title: str, page: str, session, sessions, *content):
    """
    A whole HTML page around C{content}.
    """
    nav = tags.nav(class_="nav")
    if session is None or session.authenticated:
        for name, href, label in _NAV:
            link = tags.a(label, href=href)
            if name == page:
                link(class_="current", **{"aria-current": "page"})
            nav(link)
    if sessions.required and session is not None and session.authenticated:
        nav(tags.form(csrfField(session),
                      tags.button("Log out", type="submit", class_="link"),
                      method="post", action="/logout", class_="logout"))
    head = tags.head(
        tags.meta(charset="utf-8"),
        tags.meta(name="viewport", content="width=device-width, "
                  "initial-scale=1"),
        tags.title("%s · kvtwist" % (title,)),
        tags.link(rel="stylesheet", href="/static/style.css"),
        tags.script(src="/static/app.js", defer="defer"),
    )
    if session is not None:
        head(tags.meta(name="csrf-token", content=session.csrf))
    return tags.html(
        head,
        tags.body(
            tags.header(tags.a(tags.span("kv", class_="mark"), "twist",
                               href="/", class_="brand"),
                        nav, class_="top"),
            Tag("main")(*content),
            tags.footer("kvtwist ", __version__, " · JSON API under ",
                        tags.code("/api/"), " · Prometheus at ",
                        tags.a("/metrics", href="/metrics")),
            **_data(page=page)),
        lang="en")


def notice(request):
    """
    The message for a C{done=} argument after a change, or nothing.
    """
    message = _NOTICES.get(_arg(request, b"done"))
    if message is None:
        return ""
    return tags.p(message, class_="notice", role="status")


class Page(Resource):
    """
    A page: subclasses give C{title}, C{name} and C{content(request,
    session)}, which returns a tag or a Deferred of one.
    """

    isLeaf = True
    title = ""
    name = ""

    def __init__(self, data, sessions: Sessions):
        Resource.__init__(self)
        self.data = data
        self.sessions = sessions

    def content(self, request, session):
        """
        The page's main content.
        """
        raise NotImplementedError()

    def render_GET(self, request):
        """
        Render the page (starting a session if needed, for its CSRF token).
        """
        session = self.sessions.ensure(request)
        return self.respond(request, session,
                            maybeDeferred(self.content, request, session))

    def respond(self, request, session, content, code: Optional[int] = None):
        """
        Answer C{request} with the page around C{content} (a Deferred).
        """
        secure(request)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        if code is not None:
            request.setResponseCode(code)

        def page(body):
            tree = layout(self.title, self.name, session, self.sessions,
                          body)
            return flattenString(None, tree).addCallback(
                lambda html: b"<!DOCTYPE html>\n" + html)

        def failed(failure):
            failure.trap(CommandFailed)
            request.setResponseCode(failure.value.httpStatus)
            return page(tags.p(str(failure.value), class_="error",
                               role="alert"))
        return answerLater(request, content, page, failed)

    def seeOther(self, request, url: str) -> bytes:
        """
        Answer a POST with a redirect to C{url} (303: fetch it with GET).
        """
        secure(request)
        request.setResponseCode(303)
        request.setHeader(b"location", url.encode("ascii"))
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"See " + url.encode("ascii") + b"\n"

    def forbidden(self, request, session) -> bytes:
        """
        Refuse a change without its CSRF token (403).
        """
        return self.respond(request, session, succeed(tags.p(
            "This form has expired or did not come from this site. "
            "Go back, reload the page and try again.", class_="error",
            role="alert")), 403)


# -- status ------------------------------------------------------------------

def _card(label: str, field: str, value: str, fmt: str = "number",
          hint: str = ""):
    return tags.div(tags.div(label, class_="label"),
                    tags.div(value, class_="value",
                             **_data(field=field, format=fmt)),
                    tags.div(hint, class_="hint") if hint else "",
                    class_="card")


def persistenceRows(info):
    """
    Table rows for the store service's persistence summary.
    """
    if info is None:
        return [tags.tr(tags.td("no persistence configured", colspan="2"))]
    return [tags.tr(tags.th(label, scope="row"), tags.td(value))
            for label, value in info["summary"]]


class StatusPage(Page):
    """
    C{/}: the server at a glance, kept live by polling C{/api/status}.
    """

    title = "Status"
    name = "status"

    def content(self, request, session):
        """
        Cards, the clients chart, persistence and server facts.
        """
        s = self.data.status()
        p = s["persistence"]
        failure = p["failure"] if p else None
        banner = tags.div(
            tags.strong("Persistence is failing: "),
            tags.span(failure or "", **_data(field="persistence.failure",
                                             format="text")),
            " Writes are refused until it recovers.",
            class_="banner error", id="failure", role="alert")
        if not failure:
            banner(hidden="hidden")
        return [
            tags.h1("Status"),
            banner,
            tags.section(
                _card("Uptime", "uptime", duration(s["uptime"]), "duration"),
                _card("Connected clients", "clients.connected",
                      count(s["clients"]["connected"])),
                _card("Disconnects / s", "clients.disconnectsPerSecond",
                      rate(s["clients"]["disconnectsPerSecond"]), "rate",
                      hint="clients leaving, whoever ended it"),
                _card("Closed by server", "clients.closedByServer",
                      count(s["clients"]["closedByServer"]),
                      hint="limits, timeouts, errors, slow readers"),
                _card("Commands / s", "commands.perSecond",
                      rate(s["commands"]["perSecond"]), "rate"),
                _card("Commands run", "commands.total",
                      count(s["commands"]["total"])),
                _card("Keys", "keys", "-" if s["keys"] is None
                      else count(s["keys"])),
                _card("Memory (RSS)", "memory.rss",
                      size(s["memory"]["rss"]), "bytes"),
                _card("Network in", "net.input", size(s["net"]["input"]),
                      "bytes"),
                _card("Network out", "net.output", size(s["net"]["output"]),
                      "bytes"),
                class_="cards"),
            tags.section(
                tags.h2("Clients over the last minutes"),
                tags.div(id="chart", class_="chart",
                         **{"aria-label": "connected clients, disconnects "
                            "per second and clients closed by the server, "
                            "over time"}),
                tags.p(tags.span(class_="swatch connected"), "connected  ",
                       tags.span(class_="swatch disconnects"),
                       "disconnects / s  ",
                       tags.span(class_="swatch closed"),
                       "closed by server (per sample)", class_="legend"),
                tags.div(
                    tags.div(tags.h2("Commands / s"),
                             tags.div(id="chart-commands", class_="chart",
                                      **{"aria-label": "commands per second "
                                         "over time"})),
                    tags.div(tags.h2("Memory (RSS)"),
                             tags.div(id="chart-memory", class_="chart",
                                      **{"aria-label": "resident memory "
                                         "over time"})),
                    class_="columns charts"),
                class_="panel"),
            tags.div(
                tags.section(
                    tags.h2("Persistence"),
                    tags.table(tags.tbody(persistenceRows(p),
                                          id="persistence"),
                               class_="facts"),
                    class_="panel"),
                tags.section(
                    tags.h2("Server"),
                    tags.table(tags.tbody(
                        tags.tr(tags.th("Version", scope="row"),
                                tags.td(s["version"],
                                        **_data(field="version",
                                                format="text"))),
                        tags.tr(tags.th("Runtime", scope="row"),
                                tags.td(s["implementation"])),
                        tags.tr(tags.th("Process", scope="row"),
                                tags.td(str(s["pid"]))),
                        tags.tr(tags.th("Keys with expiry", scope="row"),
                                tags.td(str(s["expiringKeys"]),
                                        **_data(field="expiringKeys",
                                                format="number"))),
                        tags.tr(tags.th("Expired keys", scope="row"),
                                tags.td(str(s["expiredKeys"]),
                                        **_data(field="expiredKeys",
                                                format="number"))),
                        tags.tr(tags.th("Rejected connections", scope="row"),
                                tags.td(str(s["clients"]["rejected"]),
                                        **_data(field="clients.rejected",
                                                format="number"))),
                    ), class_="facts"),
                    class_="panel"),
                class_="columns"),
            tags.p("Updated ", tags.span("now", id="updated"),
                   class_="muted small"),
        ]


# -- clients -----------------------------------------------------------------

_CLIENT_COLUMNS = [("id", "ID"), ("addr", "Address"), ("name", "Name"),
                   ("dialect", "Dialect"), ("age", "Connected"),
                   ("idle", "Idle"), ("commands", "Commands"),
                   ("lastCommand", "Last command")]


def clientRow(c):
    """
    One row of the clients table.
    """
    cells = []
    for field, _ in _CLIENT_COLUMNS:
        value = c[field]
        if field in ("age", "idle"):
            value = duration(value)
        cells.append(tags.td(str(value)))
    return tags.tr(*cells)


class ClientsPage(Page):
    """
    C{/clients}: the connected clients, kept live by polling
    C{/api/clients}.
    """

    title = "Clients"
    name = "clients"

    def content(self, request, session):
        """
        The clients table.
        """
        clients = self.data.clients()
        return [
            tags.h1("Clients ", tags.span(str(len(clients)),
                                          class_="count", id="client-count")),
            tags.section(tags.table(
                tags.thead(tags.tr(*[tags.th(label, scope="col")
                                     for _, label in _CLIENT_COLUMNS])),
                tags.tbody(*[clientRow(c) for c in clients],
                           id="clients-body"),
                class_="grid"), class_="panel"),
            tags.p("No clients are connected.", id="no-clients",
                   class_="muted", hidden="hidden") if clients else
            tags.p("No clients are connected.", id="no-clients",
                   class_="muted"),
        ]


# -- keys --------------------------------------------------------------------

def _keyForm(session, action: str, *fields, **attributes):
    return tags.form(csrfField(session), *fields, method="post",
                     action=action, **attributes)


class KeysPage(Page):
    """
    C{/keys?pattern=P&cursor=C}: a page of keys matching a pattern; POST
    creates a key; C{/keys/KEY} is one key.
    """

    title = "Keys"
    name = "keys"
    isLeaf = False

    def getChild(self, path, request):
        """
        L{KeyPage} for the key named by one percent-decoded segment.
        """
        if not path:
            return self
        if [p for p in request.postpath if p]:
            return NotFoundPage(self.sessions)
        return KeyPage(self.data, self.sessions, path)

    @inlineCallbacks
    def content(self, request, session):
        """
        The search form, the number of matching keys, one page of keys
        with links to the previous and next pages, and the new-key form.
        """
        pattern = _arg(request, b"pattern", b"*") or b"*"
        try:
            cursor = max(0, int(_arg(request, b"cursor", b"0") or b"0"))
        except ValueError:
            cursor = 0
        back = _cursors(_arg(request, b"back"))
        page = yield self.data.keys(pattern, cursor)
        matching = yield self.data.countKeys(pattern)
        return self._page(page, matching, request, session, pattern, cursor,
                          back)

    def _page(self, page, matching, request, session, pattern, cursor,
              back):
        rows = [tags.tr(tags.td(tags.a(row["key"], href=keyURL(row["raw"]),
                                       class_="key binary" if row["binary"]
                                       else "key")),
                        tags.td(tags.span(row["type"],
                                          class_="tag " + row["type"])),
                        tags.td(ttl(row["ttl"])))
                for row in page["keys"]]
        if not rows:
            rows = [tags.tr(tags.td("No keys on this page match.",
                                    colspan="3", class_="muted"))]
        pager = tags.nav(class_="pager", **{"aria-label": "Pages"})
        if back:
            pager(tags.a("Previous page",
                         href=keysURL(pattern, back[-1], back[:-1]),
                         rel="prev", id="previous-page"))
        if back or page["next"]:
            pager(tags.span("Page %d" % (len(back) + 1,), class_="muted",
                            id="page-number"))
        if page["next"]:
            pager(tags.a("Next page",
                         href=keysURL(pattern, page["next"],
                                      back + [cursor]),
                         rel="next", id="next-page"))
        found = matching["count"]
        if not matching["exact"]:
            # The count stopped at its budget: at least what it found, and
            # at least this page's keys.
            found = max(found, len(page["keys"]))
        n = count(found) + ("" if matching["exact"] else "+")
        if pattern == b"*":
            total = "%s %s" % (n, "key" if matching["count"] == 1 and
                               matching["exact"] else "keys")
        else:
            total = "%s matching" % (n,)
        return [
            tags.h1("Keys ", tags.span(total, class_="count",
                                       id="matching",
                                       title="" if matching["exact"] else
                                       "at least: counting all would read "
                                       "the whole store")),
            notice(request),
            tags.form(
                tags.label("Pattern", for_="pattern", class_="sr-only"),
                tags.input(type="search", name="pattern", id="pattern",
                           value="" if pattern == b"*" else text(pattern),
                           placeholder="user:*",
                           autocomplete="off"),
                tags.button("Search", type="submit"),
                method="get", action="/keys", class_="search",
                role="search"),
            tags.section(tags.table(
                tags.thead(tags.tr(tags.th("Key", scope="col"),
                                   tags.th("Type", scope="col"),
                                   tags.th("TTL", scope="col"))),
                tags.tbody(*rows, id="keys-body"), class_="grid"),
                pager, class_="panel"),
            tags.section(
                tags.h2("New key"),
                _keyForm(
                    session, "/keys",
                    tags.label("Key", tags.input(name="key", required="",
                                                 autocomplete="off")),
                    tags.label("Value", tags.textarea(name="value",
                                                      rows="3")),
                    tags.label("TTL (seconds, optional)",
                               tags.input(name="ttl", type="number",
                                          min="1", inputmode="numeric")),
                    tags.button("Create", type="submit", id="create"),
                    class_="stack"),
                class_="panel"),
        ]

    def render_POST(self, request):
        """
        Create (or replace) a key from the form: C{key}, C{value}, C{ttl}.
        """
        session = self.sessions.ensure(request)
        if not self.sessions.checkCSRF(request):
            return self.forbidden(request, session)
        key = _arg(request, b"key")
        try:
            seconds = parseTTL(_arg(request, b"ttl"))
        except ValueError:
            seconds = -1
        if not key or seconds == -1:
            return self.respond(request, session, maybeDeferred(
                lambda: tags.p("A key needs a name, and a TTL must be a "
                               "positive number of seconds.",
                               class_="error", role="alert")), 400)
        d = self.data.setKey(key, _arg(request, b"value"), seconds)
        d.addCallback(lambda _: keyURL(key) + "?done=saved")
        return answerLater(request, d, lambda url: self.seeOther(request, url),
                           self._failed(request, session))

    def _failed(self, request, session):
        def failed(failure):
            failure.trap(CommandFailed)
            request.setResponseCode(failure.value.httpStatus)
            secure(request)
            request.setHeader(b"content-type", b"text/html; charset=utf-8")
            tree = layout(self.title, self.name, session, self.sessions,
                          tags.p(str(failure.value), class_="error",
                                 role="alert"))
            return flattenString(None, tree).addCallback(
                lambda html: b"<!DOCTYPE html>\n" + html)
        return failed


class KeyPage(KeysPage):
    """
    C{/keys/KEY}: a key's type, TTL and value (a list's items), with forms
    to set, expire and delete it, and to push to and pop from a list.
    """

    isLeaf = True

    def __init__(self, data, sessions, key: bytes):
        KeysPage.__init__(self, data, sessions)
        self.key = key
        self.title = shown(key)

    def content(self, request, session):
        """
        The key, or an offer to create it.
        """
        return self.data.key(self.key).addCallback(self._key, request,
                                                   session)

    def _key(self, info, request, session):
        url = keyURL(self.key)
        back = tags.p(tags.a("← Keys", href="/keys"), class_="crumbs")
        heading = tags.h1(shown(self.key), class_="keyname")
        if info is None:
            request.setResponseCode(404)
            return [back, heading, notice(request),
                    tags.p("There is no such key.", class_="muted"),
                    tags.div(
                        tags.section(tags.h2("Create it"), self._setForm(
                            session, url, None), class_="panel"),
                        tags.section(tags.h2("Or start a list"),
                                     self._pushForm(session, url),
                                     class_="panel"),
                        class_="columns")]
        if info["type"] == "string":
            value = tags.pre(info["value"], id="value",
                             class_="value binary" if info["binary"]
                             else "value")
        else:
            binary = set(info["binaryItems"])
            value = tags.ol(*[tags.li(item, class_="binary")
                              if n in binary else tags.li(item)
                              for n, item in enumerate(info["items"])],
                            start="0", class_="items", id="value")
        facts = tags.dl(
            tags.div(tags.dt("Type"), tags.dd(tags.span(
                info["type"], class_="tag " + info["type"]), id="type")),
            tags.div(tags.dt("TTL"), tags.dd(ttl(info["ttl"]), id="ttl")),
            tags.div(tags.dt("Length"), tags.dd(
                "%d %s" % (info["length"], "items" if info["type"] == "list"
                           else "bytes"))),
            class_="facts inline")
        warnings = []
        if info.get("truncated"):
            warnings.append(tags.p("Only the beginning is shown.",
                                   class_="muted"))
        if info.get("binary") or info.get("binaryItems"):
            warnings.append(tags.p(
                "Not all of this is text: bytes that aren't UTF-8 and "
                "control characters are shown escaped (\\x00, \\xff, "
                "\\n, and \\\\ for a backslash).", class_="hint"))
        setTitle = "Edit value" if info["type"] == "string" else \
            "Replace with a string"
        listForms = []
        if info["type"] == "list":
            listForms = [tags.div(
                tags.section(tags.h2("Push"), self._pushForm(session, url),
                             class_="panel"),
                tags.section(
                    tags.h2("Pop"),
                    *[_keyForm(session, url,
                               tags.input(type="hidden", name="action",
                                          value="pop"),
                               tags.input(type="hidden", name="end",
                                          value=end),
                               tags.button(label, type="submit",
                                           class_="secondary",
                                           id="pop-" + end),
                               class_="stack")
                      for end, label in (("left", "Pop the first item"),
                                         ("right", "Pop the last item"))],
                    class_="panel"),
                class_="columns")]
        return [
            back, heading, notice(request), facts,
            tags.section(tags.h2("Value"), value, *warnings,
                         class_="panel"),
            *listForms,
            tags.div(
                tags.section(tags.h2(setTitle),
                             self._setForm(session, url, info),
                             class_="panel"),
                tags.section(
                    tags.h2("Expiry"),
                    _keyForm(session, url,
                             tags.input(type="hidden", name="action",
                                        value="expire"),
                             tags.label("Expire in (seconds)",
                                        tags.input(name="seconds",
                                                   type="number", min="1",
                                                   required="",
                                                   inputmode="numeric")),
                             tags.button("Set TTL", type="submit"),
                             class_="stack"),
                    _keyForm(session, url,
                             tags.input(type="hidden", name="action",
                                        value="persist"),
                             tags.button("Remove TTL", type="submit",
                                         class_="secondary"),
                             class_="stack"),
                    tags.h2("Delete"),
                    _keyForm(session, url,
                             tags.input(type="hidden", name="action",
                                        value="delete"),
                             tags.button("Delete key", type="submit",
                                         class_="danger"),
                             class_="stack", id="delete-form"),
                    class_="panel"),
                class_="columns"),
        ]

    def _pushForm(self, session, url):
        return _keyForm(
            session, url,
            tags.input(type="hidden", name="action", value="push"),
            tags.label("Item", tags.textarea(name="value", rows="2",
                                             id="push-value")),
            tags.label("At", tags.select(
                tags.option("the end (RPUSH)", value="right",
                            selected=""),
                tags.option("the start (LPUSH)", value="left"),
                name="end")),
            tags.button("Push", type="submit", id="push"),
            class_="stack")

    def _setForm(self, session, url, info):
        """
        The form that sets a string: its value, and what becomes of the
        time to live: kept (the default), removed, or set anew.

        @param info: the key (L{kvtwist.web.data.WebData.key}), or L{None}
            for one to create.
        """
        if info is None:
            return _keyForm(
                session, url,
                tags.input(type="hidden", name="action", value="set"),
                tags.label("Value", tags.textarea(name="value", rows="5",
                                                  id="edit-value")),
                tags.label("TTL (seconds, optional)",
                           tags.input(name="ttl", type="number", min="1",
                                      inputmode="numeric", id="edit-ttl")),
                tags.button("Save", type="submit", id="save"),
                class_="stack")
        string = info["type"] == "string"
        binary = string and info["binary"]
        current = info["value"] if string else ""
        expires = info["ttl"] >= 0
        keepLabel = "Keep it (%s)" % (
            "expires in " + ttl(info["ttl"]) if expires else "no expiry",)
        choices = [self._ttlChoice("keep", keepLabel, checked=True)]
        if expires:
            choices.append(self._ttlChoice("remove", "Remove it"))
        choices.append(tags.label(
            tags.input(type="radio", name="ttlmode", value="set",
                       id="ttlmode-set"),
            " Set it to ",
            tags.input(name="ttl", type="number", min="1",
                       inputmode="numeric", id="edit-ttl",
                       **{"aria-label": "New TTL in seconds"}),
            " seconds", class_="choice"))
        fields = [tags.input(type="hidden", name="action", value="set")]
        if binary:
            fields.append(tags.input(type="hidden", name="encoding",
                                     value="escaped"))
        fields += [
            tags.label("Value", tags.textarea(current, name="value",
                                              rows="5", id="edit-value")),
            tags.p("Type \\xHH for a byte and \\\\ for a backslash.",
                   class_="hint") if binary else "",
            tags.fieldset(tags.legend("Time to live"), *choices,
                          class_="choices", id="ttl-choice"),
            tags.button("Save", type="submit", id="save"),
        ]
        return _keyForm(session, url, *fields, class_="stack")

    def _ttlChoice(self, value, label, checked=False):
        radio = tags.input(type="radio", name="ttlmode", value=value,
                           id="ttlmode-" + value)
        if checked:
            radio(checked="checked")
        return tags.label(radio, " ", label, class_="choice")

    def render_POST(self, request):
        """
        C{action=set} (C{value}, C{ttl}), C{expire} (C{seconds}),
        C{persist}, C{delete}, C{push} (C{value}, C{end}: C{left} or
        C{right}) or C{pop} (C{end}); then back to the key (or the
        browser).
        """
        session = self.sessions.ensure(request)
        if not self.sessions.checkCSRF(request):
            return self.forbidden(request, session)
        action = _arg(request, b"action")
        url = keyURL(self.key)
        try:
            if action == b"set":
                seconds = parseTTL(_arg(request, b"ttl"),
                                   _arg(request, b"ttlmode"))
                value = _arg(request, b"value")
                encoding = _arg(request, b"encoding")
                if encoding == b"escaped":
                    value = unescape(value)
                elif encoding:
                    raise ValueError(encoding)
                d = self.data.setKey(self.key, value, seconds)
                done = url + "?done=saved"
            elif action == b"expire":
                seconds = parseSeconds(_arg(request, b"seconds"))
                if seconds is None:
                    raise ValueError(seconds)
                d = self.data.expireKey(self.key, seconds)
                done = url + "?done=expired"
            elif action == b"persist":
                d = self.data.expireKey(self.key, None)
                done = url + "?done=persisted"
            elif action == b"delete":
                d = self.data.deleteKey(self.key)
                done = "/keys?done=deleted"
            elif action == b"push":
                d = self.data.pushKey(self.key, _arg(request, b"value"),
                                      _arg(request, b"end", b"right"))
                done = url + "?done=pushed"
            elif action == b"pop":
                d = self.data.popKey(self.key, _arg(request, b"end",
                                                    b"right"))
                done = url + "?done=popped"
            else:
                raise ValueError(action)
        except ValueError:
            return self.respond(request, session, maybeDeferred(
                lambda: tags.p("That change is not valid: times to live "
                               "are whole numbers of seconds (to set one, "
                               "choose \N{LEFT DOUBLE QUOTATION MARK}Set "
                               "it\N{RIGHT DOUBLE QUOTATION MARK} and give "
                               "it), and a list's ends are left and right.",
                               class_="error", role="alert")), 400)
        d.addCallback(lambda reply: url + "?done=empty"
                      if action == b"pop" and reply is None else done)
        return answerLater(request, d, lambda u: self.seeOther(request, u),
                           self._failed(request, session))


# -- login -------------------------------------------------------------------

def _safeNext(raw: bytes) -> str:
    target = raw.decode("utf-8", "replace")
    if target.startswith("/") and not target.startswith("//") \
            and "\\" not in target:
        return quote(target, safe="/?=&%:+,;@-._~")
    return "/"


class LoginPage(Page):
    """
    C{/login}: the password form, when the server has one.
    """

    title = "Log in"
    name = "login"

    def content(self, request, session, failed: bool = False,
                retryAfter: Optional[int] = None):
        """
        The form, after a wrong password if C{failed}, or after one refused
        unchecked for C{retryAfter} seconds more.
        """
        if not self.sessions.required:
            return [tags.h1("Log in"),
                    tags.p("This server has no password: nothing to log in "
                           "to. ", tags.a("Go to the status page", href="/"),
                           ".")]
        return tags.section(
            tags.h1("Log in"),
            tags.p("Wrong password.", class_="error", role="alert")
            if failed else "",
            tags.p("Too many wrong passwords: try again in %d seconds."
                   % (retryAfter,), class_="error", role="alert")
            if retryAfter is not None else "",
            notice(request),
            tags.form(
                csrfField(session),
                tags.input(type="hidden", name="next",
                           value=_safeNext(_arg(request, b"next", b"/"))),
                tags.label("Server password",
                           tags.input(type="password", name="password",
                                      id="password", required="",
                                      autofocus="",
                                      autocomplete="current-password")),
                tags.button("Log in", type="submit"),
                method="post", action="/login", class_="stack"),
            class_="panel narrow")

    def render_POST(self, request):
        """
        Check the password: on success a new session and a redirect to
        C{next}; else the form again (403), or, while this host is locked
        out for wrong passwords, the form without a check (429).
        """
        session = self.sessions.ensure(request)
        if not self.sessions.checkCSRF(request):
            return self.forbidden(request, session)
        password = _arg(request, b"password")
        try:
            fresh = self.sessions.login(request, password)
        except LoginThrottled as e:
            request.setHeader(b"retry-after", b"%d" % (e.retryAfter,))
            return self.respond(request, session, maybeDeferred(
                self.content, request, session, retryAfter=e.retryAfter),
                429)
        if fresh is None:
            self.data.factory.stats.authFailures += 1
            return self.respond(request, session, maybeDeferred(
                self.content, request, session, True), 403)
        return self.seeOther(request, _safeNext(_arg(request, b"next",
                                                     b"/")))


class LogoutPage(Page):
    """
    C{/logout}: a GET shows a button; the POST logs out.
    """

    title = "Log out"
    name = "logout"

    def content(self, request, session):
        """
        The log-out button (a GET changes nothing).
        """
        return tags.section(
            tags.h1("Log out"),
            tags.form(csrfField(session),
                      tags.button("Log out", type="submit"),
                      method="post", action="/logout", class_="stack"),
            class_="panel narrow")

    def render_POST(self, request):
        """
        End the session and go to the login page.
        """
        session = self.sessions.ensure(request)
        if not self.sessions.checkCSRF(request):
            return self.forbidden(request, session)
        self.sessions.logout(request)
        return self.seeOther(request, "/login?done=loggedout")


# -- not found ---------------------------------------------------------------

class NotFoundPage(Resource):
    """
    The answer to a URL that names nothing: a page in the site's style,
    status 404, whatever the method.  It starts no session.
    """

    isLeaf = True

    def __init__(self, sessions: Sessions):
        Resource.__init__(self)
        self.sessions = sessions

    def render(self, request):
        """
        The 404 page.
        """
        secure(request)
        request.setResponseCode(404)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        path = request.path.decode("utf-8", "replace")
        tree = layout("Not found", "notfound", None, self.sessions,
                      tags.h1("Not found"),
                      tags.section(
                          tags.p("There is no page at ",
                                 tags.code(path, id="missing-path"), "."),
                          tags.p("Try the ", tags.a("status", href="/"),
                                 ", the ", tags.a("clients", href="/clients"),
                                 " or the ", tags.a("keys", href="/keys"),
                                 " page."),
                          class_="panel notfound"))
        d = flattenString(None, tree).addCallback(
            lambda html: b"<!DOCTYPE html>\n" + html)
        return answerLater(request, d, lambda body: body, lambda f: f)


# -- the root ----------------------------------------------------------------

class StaticFiles(File):
    """
    The package's C{static/} files, without directory listings; a missing
    file gets the styled 404 page.
    """

    @classmethod
    def forSessions(cls, path: str, sessions: Sessions) -> "StaticFiles":
        """
        The files under C{path}, with the 404 page of C{sessions}' site
        (C{createSimilarFile} gives each child the same).
        """
        files = cls(path)
        files.childNotFound = NotFoundPage(sessions)
        return files

    def directoryListing(self):
        """
        No listings.
        """
        return self.childNotFound


class _LoginFirst(Resource):
    isLeaf = True

    def render(self, request):
        secure(request)
        target = "/login?" + urlencode({"next": request.uri.decode(
            "utf-8", "replace")})
        request.setResponseCode(303)
        request.setHeader(b"location", target.encode("ascii"))
        return b"Log in first\n"


class WebRoot(Resource):
    """
    The root of the web interface.  With a server password, pages other
    than C{/login} and C{/static} redirect to the login page until logged
    in (C{/api} and C{/metrics} check for themselves).
    """

    _public = (b"login", b"static", b"api", b"metrics", b"logout")

    def __init__(self, data, sessions: Sessions):
        """
        @param data: the L{kvtwist.web.data.WebData}.
        @param sessions: the L{Sessions}.
        """
        Resource.__init__(self)
        self.data = data
        self.sessions = sessions
        self.putChild(b"", StatusPage(data, sessions))
        self.putChild(b"clients", ClientsPage(data, sessions))
        self.putChild(b"keys", KeysPage(data, sessions))
        self.putChild(b"login", LoginPage(data, sessions))
        self.putChild(b"logout", LogoutPage(data, sessions))
        self.putChild(b"api", APIResource(data, sessions))
        self.putChild(b"metrics", MetricsResource(
            makeRegistry(data.factory), sessions))
        self.putChild(b"static", StaticFiles.forSessions(STATIC, sessions))

    def getChildWithDefault(self, path, request):
        """
        The child, or the login page's redirect.
        """
        if path not in self._public and not self.sessions.authorized(request):
            return _LoginFirst()
        return Resource.getChildWithDefault(self, path, request)

    def getChild(self, path, request):
        """
        A URL that names nothing: the styled 404 page.
        """
        return NotFoundPage(self.sessions)

