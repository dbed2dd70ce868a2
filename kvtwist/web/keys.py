# -*- test-case-name: kvtwist.test.test_web -*-
"""
C{/keys}: the key browser, a page of keys matching a pattern at a time
(C{SCAN}), with how many match, previous and next pages, and the form that
creates a key.  C{/keys/KEY} is L{kvtwist.web.keypage}'s.
"""

from twisted.internet.defer import inlineCallbacks, maybeDeferred
from twisted.web.template import tags

from kvtwist.web.fmt import count, fromForm, text, ttl
from kvtwist.web.keypage import KeyPage
from kvtwist.web.pages import (NotFoundPage, Page, arg, cursors, keyForm,
                               keysURL, keyURL, notice)
from kvtwist.web.respond import answerLater, parseTTL


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
        pattern = arg(request, b"pattern", b"*") or b"*"
        try:
            cursor = max(0, int(arg(request, b"cursor", b"0") or b"0"))
        except ValueError:
            cursor = 0
        back = cursors(arg(request, b"back"))
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
                keyForm(
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
        key = arg(request, b"key")
        try:
            seconds = parseTTL(arg(request, b"ttl"))
        except ValueError:
            seconds = -1
        if not key or seconds == -1:
            return self.respond(request, session, maybeDeferred(
                lambda: tags.p("A key needs a name, and a TTL must be a "
                               "positive number of seconds.",
                               class_="error", role="alert")), 400)
        d = self.data.setKey(key, fromForm(arg(request, b"value")), seconds)
        d.addCallback(lambda _: keyURL(key) + "?done=saved")
        return answerLater(request, d, lambda url: self.seeOther(request, url),
                           self.failedPage(request, session))
