# -*- test-case-name: kvtwist.test.test_web -*-
"""
C{/keys/KEY}: one key, its type, time to live and value, with the forms
that change it; a POST runs the change and redirects back.
"""

from twisted.internet.defer import maybeDeferred
from twisted.web.template import tags

from kvtwist.dialects.text import unescape
from kvtwist.web.fmt import shown, ttl
from kvtwist.web.pages import Page, arg, keyForm, keyURL, notice
from kvtwist.web.respond import answerLater, parseSeconds, parseTTL


class KeyPage(Page):
    """
    C{/keys/KEY}: a key's type, TTL and value (a list's items), with forms
    to set, expire and delete it, and to push to and pop from a list.
    """

    isLeaf = True

    def __init__(self, data, sessions, key: bytes):
        Page.__init__(self, data, sessions)
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
                    *[keyForm(session, url,
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
                    keyForm(session, url,
                            tags.input(type="hidden", name="action",
                                       value="expire"),
                            tags.label("Expire in (seconds)",
                                       tags.input(name="seconds",
                                                  type="number", min="1",
                                                  required="",
                                                  inputmode="numeric")),
                            tags.button("Set TTL", type="submit"),
                            class_="stack"),
                    keyForm(session, url,
                            tags.input(type="hidden", name="action",
                                       value="persist"),
                            tags.button("Remove TTL", type="submit",
                                        class_="secondary"),
                            class_="stack"),
                    tags.h2("Delete"),
                    keyForm(session, url,
                            tags.input(type="hidden", name="action",
                                       value="delete"),
                            tags.button("Delete key", type="submit",
                                        class_="danger"),
                            class_="stack", id="delete-form"),
                    class_="panel"),
                class_="columns"),
        ]

    def _pushForm(self, session, url):
        return keyForm(
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
            return keyForm(
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
        return keyForm(session, url, *fields, class_="stack")

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
        action = arg(request, b"action")
        url = keyURL(self.key)
        try:
            if action == b"set":
                seconds = parseTTL(arg(request, b"ttl"),
                                   arg(request, b"ttlmode"))
                value = arg(request, b"value")
                encoding = arg(request, b"encoding")
                if encoding == b"escaped":
                    value = unescape(value)
                elif encoding:
                    raise ValueError(encoding)
                d = self.data.setKey(self.key, value, seconds)
                done = url + "?done=saved"
            elif action == b"expire":
                seconds = parseSeconds(arg(request, b"seconds"))
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
                d = self.data.pushKey(self.key, arg(request, b"value"),
                                      arg(request, b"end", b"right"))
                done = url + "?done=pushed"
            elif action == b"pop":
                d = self.data.popKey(self.key, arg(request, b"end",
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
                           self.failedPage(request, session))
