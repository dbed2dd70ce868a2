# -*- test-case-name: kvtwist.test.test_web_members -*-
"""
How a key page shows and edits each type's value: a string's text, a
list's items (push and pop), a hash's field table (set, edit, delete a
field), a set's members (add, remove) and a sorted set's members and
scores, lowest score first (add, change a score, remove); with the pages
of a big hash, set or sorted set, and the forms that start a new key of
each type.

Each form posts an C{action} to the key's page (L{kvtwist.web.keypage}),
with the position of the page it was on (C{at}) so that the answer comes
back to it.  Elements in the per-row forms travel escaped
(C{encoding=escaped}, L{kvtwist.web.fmt.escaped}), so any bytes go back
exactly.
"""

from typing import List, Optional
from urllib.parse import parse_qsl, quote, urlencode

from twisted.web.template import tags

from kvtwist.web.fmt import count, escaped
from kvtwist.web.members import MEMBERS_PAGE, Position
from kvtwist.web.pages import keyForm

#: The arguments that say which page of a hash, set or sorted set is shown.
PAGE_ARGS = ("cursor", "skip", "match", "back", "offset")

#: The hint shown beside anything shown escaped.
ESCAPED_HINT = ("Not all of this is text: bytes that aren't UTF-8 and "
                "control characters are shown escaped (\\x00, \\xff, \\n, "
                "and \\\\ for a backslash).")


# -- where a page is ---------------------------------------------------------

def pageQuery(at: Position, back=(), **more) -> str:
    """
    The query string of a page of a hash, set or sorted set at C{at}, with
    the trail of earlier pages C{back} (L{Position.token}s), and C{more}
    arguments; empty for the first page.
    """
    query = []
    if at.cursor or at.skip:
        query += [("cursor", str(at.cursor)), ("skip", str(at.skip))]
    if at.offset:
        query.append(("offset", str(at.offset)))
    if at.match != b"*":
        query.append(("match", at.match))
    if back:
        query.append(("back", ",".join(back)))
    query += [(k, v) for k, v in more.items() if v is not None]
    return urlencode(query)


def backTrail(raw: bytes) -> List[str]:
    """
    The C{back} trail of a page's link: L{Position.token}s,
    comma-separated (whatever isn't one is dropped).
    """
    out = []
    for token in raw.split(b","):
        if Position().fromToken(token) is not None:
            out.append(token.decode("ascii"))
    return out[-1000:]


def returnQuery(raw: bytes) -> str:
    """
    The query of the page a change came from (its form's C{at} field),
    keeping only the arguments that say where a page is.
    """
    pairs = parse_qsl(raw.decode("utf-8", "replace"))
    return urlencode([(k, v) for k, v in pairs if k in PAGE_ARGS])


def _hidden(name: str, value: str):
    return tags.input(type="hidden", name=name, value=value)


def _action(name: str, here: str):
    return [_hidden("action", name), _hidden("at", here)]


def _pager(url: str, page, back: List[str], byOffset: bool):
    """
    Previous and next links of a page of a collection.
    """
    at, following = page["at"], page["next"]
    pager = tags.nav(class_="pager", **{"aria-label": "Pages"})
    if byOffset:
        previous = at._replace(offset=max(0, at.offset - MEMBERS_PAGE)) \
            if at.offset else None
        number = at.offset // MEMBERS_PAGE + 1
        earlier = []
    else:
        previous = at.fromToken(back[-1].encode()) if back else None
        number = len(back) + 1
        earlier = back[:-1]
    if previous is not None:
        query = pageQuery(previous, earlier)
        pager(tags.a("Previous page", href=url + ("?" + query if query
                                                  else ""),
                     rel="prev", id="previous-page"))
    if previous is not None or following is not None:
        pager(tags.span("Page %d" % (number,), class_="muted",
                        id="page-number"))
    if following is not None:
        trail = [] if byOffset else back + [at.token()]
        pager(tags.a("Next page", href=url + "?" + pageQuery(following,
                                                             trail),
                     rel="next", id="next-page"))
    return pager


def _filter(url: str, at: Position, noun: str):
    """
    The form that filters a hash's fields or a set's members by a glob
    pattern (C{MATCH}).
    """
    return tags.form(
        tags.label("Filter %s" % (noun,), for_="match", class_="sr-only"),
        tags.input(type="search", name="match", id="match",
                   value="" if at.match == b"*" else
                   at.match.decode("utf-8", "replace"),
                   placeholder="filter %s, e.g. name*" % (noun,),
                   autocomplete="off"),
        tags.button("Filter", type="submit", class_="secondary"),
        method="get", action=url, class_="search", role="search")


def _cell(text: str, binary: bool, truncated: bool, cls: str):
    cell = tags.td(text, class_=cls + (" binary" if binary else ""))
    if truncated:
        cell(tags.span(" … (cut)", class_="muted"))
    return cell


def _hints(rows, noun: str):
    out = []
    if any(r["truncated"] for r in rows):
        out.append(tags.p("Long %s are cut; those can't be changed here "
                          "(use a client)." % (noun,), class_="muted"))
    if any(r["binary"] for r in rows):
        out.append(tags.p(ESCAPED_HINT, class_="hint"))
    return out


# -- hashes ------------------------------------------------------------------

def hashPanels(session, url: str, info, here: str, back: List[str],
               editing) -> list:
    """
    A hash's field table (with the filter and pages) and the form that
    sets a field, filled with the field being edited (C{editing}:
    L{kvtwist.web.members.MemberCommands.hashField}, or L{None}).
    """
    rows = []
    for row in info["fields"]:
        actions = tags.td(class_="actions")
        if not row["truncated"]:
            raw = row["raw"]
            editURL = url + "?" + (here + "&" if here else "") + \
                "field=" + quote(raw, safe="") + "#field-form"
            actions(tags.a("Edit", href=editURL, class_="edit"),
                    keyForm(session, url, *_action("hdel", here),
                            _hidden("encoding", "escaped"),
                            _hidden("field", escaped(raw)),
                            tags.button("Delete", type="submit",
                                        class_="secondary small"),
                            class_="inline"))
        rows.append(tags.tr(
            _cell(row["field"], row["binary"], False, "field"),
            _cell(row["value"], row["binary"], row["truncated"], "value"),
            actions))
    if not rows:
        rows = [tags.tr(tags.td("No fields on this page match."
                                if info["match"] != b"*" else
                                "No fields on this page.", colspan="3",
                                class_="muted"))]
    table = tags.table(
        tags.thead(tags.tr(tags.th("Field", scope="col"),
                           tags.th("Value", scope="col"),
                           tags.th(tags.span("Changes", class_="sr-only"),
                                   scope="col"))),
        tags.tbody(*rows), class_="grid", id="fields")
    return [
        tags.section(tags.h2("Fields"), _filter(url, info["at"], "fields"),
                     table, _pager(url, info, back, False),
                     *_hints(info["fields"], "fields or values"),
                     class_="panel"),
        tags.section(tags.h2("Edit field" if editing else "Set a field"),
                     fieldForm(session, url, here, editing),
                     class_="panel", id="field-form"),
    ]


def fieldForm(session, url: str, here: str = "", editing=None):
    """
    The form that sets a hash's field (C{HSET}): empty, or filled with the
    field being edited (escaped, with C{encoding=escaped}, when it isn't
    text).
    """
    fields = _action("hset", here)
    name, value, note = "", "", ""
    if editing is not None:
        name, value = editing["field"], editing["value"]
        if editing["binary"]:
            fields.append(_hidden("encoding", "escaped"))
            note = tags.p("Type \\xHH for a byte and \\\\ for a backslash.",
                          class_="hint")
        if editing["tooBig"]:
            note = tags.p("This value is %s bytes: too big to edit here."
                          % (count(editing["length"]),), class_="error")
    return keyForm(
        session, url, *fields,
        tags.label("Field", tags.input(name="field", value=name,
                                       required="", autocomplete="off",
                                       id="field-name")),
        tags.label("Value", tags.textarea(value, name="value", rows="4",
                                          id="field-value")),
        note,
        tags.button("Save field", type="submit", id="set-field"),
        class_="stack")


# -- sets --------------------------------------------------------------------

def setPanels(session, url: str, info, here: str, back: List[str]) -> list:
    """
    A set's members (with the filter and pages), each with a remove
    button, and the form that adds one.
    """
    rows = []
    for row in info["members"]:
        actions = tags.td(class_="actions")
        if not row["truncated"]:
            actions(_removeForm(session, url, here, "srem", row["raw"]))
        rows.append(tags.tr(_cell(row["member"], row["binary"],
                                  row["truncated"], "member"), actions))
    if not rows:
        rows = [tags.tr(tags.td("No members on this page match."
                                if info["match"] != b"*" else
                                "No members on this page.", colspan="2",
                                class_="muted"))]
    table = tags.table(
        tags.thead(tags.tr(tags.th("Member", scope="col"),
                           tags.th(tags.span("Changes", class_="sr-only"),
                                   scope="col"))),
        tags.tbody(*rows), class_="grid", id="members")
    return [
        tags.section(tags.h2("Members"), _filter(url, info["at"], "members"),
                     table, _pager(url, info, back, False),
                     *_hints(info["members"], "members"),
                     class_="panel"),
        tags.section(tags.h2("Add a member"), memberForm(session, url, here),
                     class_="panel"),
    ]


def _removeForm(session, url: str, here: str, action: str, raw: bytes):
    return keyForm(session, url, *_action(action, here),
                   _hidden("encoding", "escaped"),
                   _hidden("member", escaped(raw)),
                   tags.button("Remove", type="submit",
                               class_="secondary small"),
                   class_="inline")


def memberForm(session, url: str, here: str = ""):
    """
    The form that adds a member to a set (C{SADD}).
    """
    return keyForm(
        session, url, *_action("sadd", here),
        tags.label("Member", tags.input(name="member", required="",
                                        autocomplete="off",
                                        id="member-name")),
        tags.button("Add", type="submit", id="add-member"),
        class_="stack")


# -- sorted sets -------------------------------------------------------------

def zsetPanels(session, url: str, info, here: str) -> list:
    """
    A sorted set's members by rank, lowest score first (with pages), each
    with its score in a form that changes it and a remove button; and the
    form that adds a member.
    """
    rows = []
    for row in info["members"]:
        scoreCell = tags.td(row["score"], class_="score")
        actions = tags.td(class_="actions")
        if not row["truncated"]:
            member = escaped(row["raw"])
            scoreCell = tags.td(keyForm(
                session, url, *_action("zadd", here),
                _hidden("encoding", "escaped"), _hidden("member", member),
                tags.input(name="score", value=row["score"],
                           inputmode="decimal", required="",
                           autocomplete="off", class_="score",
                           **{"aria-label": "Score"}),
                tags.button("Save", type="submit", class_="secondary small"),
                class_="inline"), class_="score")
            actions(_removeForm(session, url, here, "zrem", row["raw"]))
        rows.append(tags.tr(
            tags.td(str(row["rank"]), class_="rank"),
            _cell(row["member"], row["binary"], row["truncated"], "member"),
            scoreCell, actions))
    if not rows:
        rows = [tags.tr(tags.td("No members on this page.", colspan="4",
                                class_="muted"))]
    table = tags.table(
        tags.thead(tags.tr(tags.th("Rank", scope="col"),
                           tags.th("Member", scope="col"),
                           tags.th("Score", scope="col"),
                           tags.th(tags.span("Changes", class_="sr-only"),
                                   scope="col"))),
        tags.tbody(*rows), class_="grid", id="members")
    return [
        tags.section(tags.h2("Members, lowest score first"), table,
                     _pager(url, info, [], True),
                     *_hints(info["members"], "members"),
                     class_="panel"),
        tags.section(tags.h2("Add a member"), scoredForm(session, url, here),
                     class_="panel"),
    ]


def scoredForm(session, url: str, here: str = ""):
    """
    The form that adds a member to a sorted set, or sets its score
    (C{ZADD}).
    """
    return keyForm(
        session, url, *_action("zadd", here),
        tags.label("Member", tags.input(name="member", required="",
                                        autocomplete="off",
                                        id="zmember-name")),
        tags.label("Score", tags.input(name="score", required="",
                                       inputmode="decimal",
                                       autocomplete="off", placeholder="1.5",
                                       id="zmember-score")),
        tags.button("Add", type="submit", id="add-zmember"),
        class_="stack")


# -- lists -------------------------------------------------------------------

def listPanels(session, url: str, info) -> list:
    """
    A list's items (the first L{kvtwist.web.keydata.LIST_LIMIT}), and the
    push and pop forms.
    """
    binary = set(info["binaryItems"])
    items = tags.ol(*[tags.li(item, class_="binary")
                      if n in binary else tags.li(item)
                      for n, item in enumerate(info["items"])],
                    start="0", class_="items", id="value")
    notes = []
    if info["truncated"]:
        notes.append(tags.p("Only the beginning is shown.", class_="muted"))
    if binary:
        notes.append(tags.p(ESCAPED_HINT, class_="hint"))
    return [
        tags.section(tags.h2("Items"), items, *notes, class_="panel"),
        tags.div(
            tags.section(tags.h2("Push"), pushForm(session, url),
                         class_="panel"),
            tags.section(
                tags.h2("Pop"),
                *[keyForm(session, url, _hidden("action", "pop"),
                          _hidden("end", end),
                          tags.button(label, type="submit",
                                      class_="secondary", id="pop-" + end),
                          class_="stack")
                  for end, label in (("left", "Pop the first item"),
                                     ("right", "Pop the last item"))],
                class_="panel"),
            class_="columns"),
    ]


def pushForm(session, url: str):
    """
    The form that pushes an item to a list (C{RPUSH} or C{LPUSH}).
    """
    return keyForm(
        session, url, _hidden("action", "push"),
        tags.label("Item", tags.textarea(name="value", rows="2",
                                         id="push-value")),
        tags.label("At", tags.select(
            tags.option("the end (RPUSH)", value="right", selected=""),
            tags.option("the start (LPUSH)", value="left"),
            name="end")),
        tags.button("Push", type="submit", id="push"),
        class_="stack")


# -- new keys ----------------------------------------------------------------

def startPanels(session, url: str) -> list:
    """
    For a missing key: the forms that start a list, a hash, a set or a
    sorted set there.
    """
    def panel(title: str, form):
        return tags.section(tags.h2(title), form, class_="panel")
    return [tags.div(
        panel("Or start a list", pushForm(session, url)),
        panel("Or start a hash", fieldForm(session, url)),
        panel("Or start a set", memberForm(session, url)),
        panel("Or start a sorted set", scoredForm(session, url)),
        class_="columns")]


def lengthText(info) -> Optional[str]:
    """
    A key's length for people: C{"5 bytes"}, C{"3 items"}, C{"2 fields"},
    C{"4 members"}; L{None} for a type without one.
    """
    unit = {"string": "byte", "list": "item", "hash": "field",
            "set": "member", "zset": "member"}.get(info["type"])
    if unit is None or "length" not in info:
        return None
    n = info["length"]
    return "%s %s%s" % (count(n), unit, "" if n == 1 else "s")
