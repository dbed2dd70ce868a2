# -*- test-case-name: kvtwist.test.test_web -*-
"""
C{/login} and C{/logout}: the server password's form, when the server has
one, and the end of a session.
"""

from typing import Optional
from urllib.parse import quote

from twisted.internet.defer import maybeDeferred
from twisted.web.template import tags

from kvtwist.web.pages import Page, arg, csrfField, notice
from kvtwist.web.session import LoginThrottled


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
                           value=_safeNext(arg(request, b"next", b"/"))),
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
        password = arg(request, b"password")
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
        return self.seeOther(request, _safeNext(arg(request, b"next",
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
