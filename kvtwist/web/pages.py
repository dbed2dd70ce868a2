# -*- test-case-name: kvtwist.test.test_web -*-
"""
What every page of the web interface shares: links, the layout around a
page's content (rendered with L{twisted.web.template}, which escapes every
value), the L{Page} resource the pages build on, and the styled 404 page.

Pages work without JavaScript; the script only keeps the status and
clients pages up to date and draws the charts.  Changes are POSTs carrying
the session's CSRF token, answered by a redirect (303) to a page.
"""

from typing import Optional
from urllib.parse import quote, urlencode

from twisted.internet.defer import maybeDeferred, succeed
from twisted.web.resource import Resource
from twisted.web.template import Tag, flattenString, tags

from kvtwist import __version__
from kvtwist.web.data import CommandFailed
from kvtwist.web.respond import answerLater, secure
from kvtwist.web.session import Sessions

#: The messages a page shows after a change, by its C{done=} argument.
NOTICES = {
    b"saved": "Saved.",
    b"expired": "Time to live set.",
    b"persisted": "Time to live removed.",
    b"deleted": "Key deleted.",
    b"pushed": "Pushed.",
    b"popped": "Popped.",
    b"empty": "There was nothing to pop.",
    b"fieldset": "Field saved.",
    b"fielddeleted": "Field deleted.",
    b"nofield": "There was no such field: nothing deleted.",
    b"added": "Member added.",
    b"present": "Already a member: nothing added.",
    b"scored": "Score saved.",
    b"removed": "Member removed.",
    b"notmember": "Not a member: nothing removed.",
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


def cursors(raw: bytes):
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


def arg(request, name: bytes, default: bytes = b"") -> bytes:
    """
    The first value of query or form argument C{name}, or C{default}.
    """
    return (request.args.get(name) or [default])[0]


def dataAttributes(**attributes):
    """
    C{data-} attributes for a tag: C{dataAttributes(field="x")} is
    C{{"data-field": "x"}}.
    """
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
            **dataAttributes(page=page)),
        lang="en")


def keyForm(session, action: str, *fields, **attributes):
    """
    A POST form to C{action} carrying the session's CSRF token.
    """
    return tags.form(csrfField(session), *fields, method="post",
                     action=action, **attributes)


def notice(request):
    """
    The message for a C{done=} argument after a change, or nothing.
    """
    message = NOTICES.get(arg(request, b"done"))
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

    def failedPage(self, request, session):
        """
        An errback for a change: a command's error reply (L{CommandFailed})
        answered with the page around it, with its HTTP status (503 while
        persistence fails, else 400).
        """
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

    def forbidden(self, request, session) -> bytes:
        """
        Refuse a change without its CSRF token (403).
        """
        return self.respond(request, session, succeed(tags.p(
            "This form has expired or did not come from this site. "
            "Go back, reload the page and try again.", class_="error",
            role="alert")), 403)


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
