# -*- test-case-name: kvtwist.test.test_web -*-
"""
C{/keys/KEY}: one key, its type, time to live and value (shown and edited
as its type is: L{kvtwist.web.values}), with the forms that change it; a
POST runs the change and redirects back to the page it came from.
"""

from typing import Callable, Dict, Tuple

from twisted.internet.defer import succeed
from twisted.web.template import tags

from kvtwist.dialects.text import unescape
from kvtwist.web.fmt import escaped, fromForm, shown, ttl
from kvtwist.web.members import Position
from kvtwist.web.pages import Page, arg, keyForm, keyURL, notice
from kvtwist.web.respond import answerLater, parseSeconds, parseTTL
from kvtwist.web import values


class Mistake(ValueError):
    """
    A change that is not valid as given: its message says why, for people.
    """


#: What the page says about a change it refused as not valid, by action.
_MISTAKES = {
    b"set": "That change is not valid: times to live are whole numbers of "
            "seconds (to set one, choose \N{LEFT DOUBLE QUOTATION MARK}Set "
            "it\N{RIGHT DOUBLE QUOTATION MARK} and give it).",
    b"push": "A list's ends are left and right.",
    b"pop": "A list's ends are left and right.",
}


def _escapedArg(request, name: bytes, required: bool = True) -> bytes:
    """
    A form's C{name} field (its line breaks as LF: L{fromForm}), read
    back from its escapes if the form says C{encoding=escaped}.

    @raise Mistake: if it is required and missing, or the encoding is
        unknown.
    """
    raw = fromForm(arg(request, name))
    encoding = arg(request, b"encoding")
    if encoding == b"escaped":
        raw = unescape(raw)
    elif encoding:
        raise Mistake("The encoding is escaped or nothing.")
    if required and not raw:
        raise Mistake("Give the %s." % (name.decode(),))
    return raw


class KeyPage(Page):
    """
    C{/keys/KEY}: a key's type, TTL and value, with forms to set, expire
    and delete it, and to change its list, hash, set or sorted set.
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
        try:
            at = Position.fromArgs(request.args)
        except ValueError:
            at = Position()
        d = self.data.key(self.key, at)
        field = request.args.get(b"field")

        def editing(info):
            if info is None or info["type"] != "hash" or not field:
                return info, None
            return self.data.hashField(self.key, field[0]).addCallback(
                lambda found: (info, found))
        return d.addCallback(editing).addCallback(
            lambda found: self._key(found[0], found[1], request, session,
                                    at))

    def _key(self, info, editing, request, session, at: Position):
        url = keyURL(self.key)
        back = tags.p(tags.a("← Keys", href="/keys"), class_="crumbs")
        heading = tags.h1(shown(self.key), class_="keyname")
        if info is None:
            request.setResponseCode(404)
            return [back, heading, notice(request),
                    tags.p("There is no such key.", class_="muted"),
                    tags.section(tags.h2("Create it (a string)"),
                                 self._setForm(session, url, None),
                                 class_="panel"),
                    *values.startPanels(session, url)]
        kind = info["type"]
        trail = values.backTrail(arg(request, b"back"))
        here = values.pageQuery(at, trail)
        facts = tags.dl(
            tags.div(tags.dt("Type"), tags.dd(tags.span(
                kind, class_="tag " + kind), id="type")),
            tags.div(tags.dt("TTL"), tags.dd(ttl(info["ttl"]), id="ttl")),
            class_="facts inline")
        length = values.lengthText(info)
        if length is not None:
            facts(tags.div(tags.dt("Length"), tags.dd(length, id="length")))
        if kind == "string":
            shownValue = [tags.section(
                tags.h2("Value"),
                tags.pre(info["value"], id="value",
                         class_="value binary" if info["binary"]
                         else "value"),
                tags.p("Only the beginning is shown.", class_="muted")
                if info["truncated"] else "",
                tags.p(values.ESCAPED_HINT, class_="hint")
                if info["binary"] else "", class_="panel")]
        elif kind == "list":
            shownValue = values.listPanels(session, url, info)
        elif kind == "hash":
            shownValue = values.hashPanels(session, url, info, here, trail,
                                           editing)
        elif kind == "set":
            shownValue = values.setPanels(session, url, info, here, trail)
        elif kind == "zset":
            shownValue = values.zsetPanels(session, url, info, here)
        else:
            shownValue = [tags.p(
                "The web interface can't show or edit a %s; use a client "
                "(redis-cli)." % (kind,), class_="muted")]
        return [
            back, heading, notice(request), facts, *shownValue,
            tags.div(
                tags.section(tags.h2("Edit value" if kind == "string"
                                     else "Replace with a string"),
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
        if string and not binary and "\r" in current:
            # Text, but a form would send its CR LF back as LF: escaped.
            binary = True
            current = escaped(current.encode("utf-8"))
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

    # -- changes ----------------------------------------------------------

    def _change(self, request, action: bytes) -> Tuple[object, Callable]:
        """
        Start the change a POST asks for.

        @return: its Deferred, and a function of its reply giving the
            C{done=} notice to come back with.
        @raise ValueError: if it is not valid as given.
        """
        data, key = self.data, self.key
        if action == b"set":
            seconds = parseTTL(arg(request, b"ttl"),
                               arg(request, b"ttlmode"))
            value = _escapedArg(request, b"value", required=False)
            return data.setKey(key, value, seconds), lambda _: "saved"
        if action == b"expire":
            seconds = parseSeconds(arg(request, b"seconds"))
            if seconds is None:
                raise Mistake("Give the time to live in seconds.")
            return data.expireKey(key, seconds), lambda _: "expired"
        if action == b"persist":
            return data.expireKey(key, None), lambda _: "persisted"
        if action == b"delete":
            return data.deleteKey(key), lambda _: "deleted"
        if action == b"push":
            return (data.pushKey(key, fromForm(arg(request, b"value")),
                                 arg(request, b"end", b"right")),
                    lambda _: "pushed")
        if action == b"pop":
            return (data.popKey(key, arg(request, b"end", b"right")),
                    lambda reply: "empty" if reply is None else "popped")
        change = _MEMBER_CHANGES.get(action)
        if change is None:
            raise Mistake("There is no such change.")
        return change(data, key, request)

    def render_POST(self, request):
        """
        Run one change: C{action=set} (C{value}, C{ttl}), C{expire}
        (C{seconds}), C{persist}, C{delete}, C{push} (C{value}, C{end}:
        C{left} or C{right}), C{pop} (C{end}), C{hset} (C{field},
        C{value}), C{hdel} (C{field}), C{sadd} or C{srem} (C{member}),
        C{zadd} (C{member}, C{score}), C{zrem} (C{member}); fields and
        values read back from their escapes with C{encoding=escaped}.
        Then back to the key's page it came from (C{at}), or the key
        browser after a delete.
        """
        session = self.sessions.ensure(request)
        if not self.sessions.checkCSRF(request):
            return self.forbidden(request, session)
        action = arg(request, b"action")
        try:
            d, notice = self._change(request, action)
        except ValueError as e:
            message = str(e) if isinstance(e, Mistake) else \
                _MISTAKES.get(action, "That change is not valid.")
            return self.respond(request, session, succeed(tags.p(
                message, class_="error", role="alert")), 400)
        query = values.returnQuery(arg(request, b"at"))

        def where(reply) -> str:
            done = notice(reply)
            if done == "deleted":
                return "/keys?done=deleted"
            return "%s?%sdone=%s" % (keyURL(self.key),
                                     query + "&" if query else "", done)
        d.addCallback(where)
        return answerLater(request, d, lambda u: self.seeOther(request, u),
                           self.failedPage(request, session))


def _hset(data, key, request):
    field = _escapedArg(request, b"field")
    value = _escapedArg(request, b"value", required=False)
    return data.setField(key, field, value), lambda _: "fieldset"


def _hdel(data, key, request):
    return (data.deleteField(key, _escapedArg(request, b"field")),
            lambda n: "fielddeleted" if n else "nofield")


def _sadd(data, key, request):
    return (data.addMember(key, _escapedArg(request, b"member")),
            lambda n: "added" if n else "present")


def _srem(data, key, request):
    return (data.removeMember(key, _escapedArg(request, b"member")),
            lambda n: "removed" if n else "notmember")


def _zadd(data, key, request):
    member = _escapedArg(request, b"member")
    score = arg(request, b"score").strip()
    if not score:
        raise Mistake("Give the score, a number such as 1.5 or -inf.")
    return (data.setScore(key, member, score),
            lambda n: "added" if n else "scored")


def _zrem(data, key, request):
    return (data.removeScored(key, _escapedArg(request, b"member")),
            lambda n: "removed" if n else "notmember")


#: The changes of a hash, set or sorted set, by action: each takes the
#: data, the key and the request, as L{KeyPage._change} returns.
_MEMBER_CHANGES: Dict[bytes, Callable] = {
    b"hset": _hset, b"hdel": _hdel, b"sadd": _sadd, b"srem": _srem,
    b"zadd": _zadd, b"zrem": _zrem,
}
