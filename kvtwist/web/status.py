# -*- test-case-name: kvtwist.test.test_web -*-
"""
The pages about the running server: C{/}, its status (kept live by
polling C{/api/status}, the charts drawn by the page's script), and
C{/clients}, the connected clients (kept live by polling C{/api/clients}).
"""

from twisted.web.template import tags

from kvtwist.web.fmt import count, duration, rate, size
from kvtwist.web.pages import Page, dataAttributes


def _card(label: str, field: str, value: str, fmt: str = "number",
          hint: str = ""):
    return tags.div(tags.div(label, class_="label"),
                    tags.div(value, class_="value",
                             **dataAttributes(field=field, format=fmt)),
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
            tags.span(failure or "", **dataAttributes(
                field="persistence.failure", format="text")),
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
                                        **dataAttributes(field="version",
                                                         format="text"))),
                        tags.tr(tags.th("Runtime", scope="row"),
                                tags.td(s["implementation"])),
                        tags.tr(tags.th("Process", scope="row"),
                                tags.td(str(s["pid"]))),
                        tags.tr(tags.th("Keys with expiry", scope="row"),
                                tags.td(str(s["expiringKeys"]),
                                        **dataAttributes(field="expiringKeys",
                                                         format="number"))),
                        tags.tr(tags.th("Expired keys", scope="row"),
                                tags.td(str(s["expiredKeys"]),
                                        **dataAttributes(field="expiredKeys",
                                                         format="number"))),
                        tags.tr(tags.th("Rejected connections", scope="row"),
                                tags.td(str(s["clients"]["rejected"]),
                                        **dataAttributes(
                                            field="clients.rejected",
                                            format="number"))),
                    ), class_="facts"),
                    class_="panel"),
                class_="columns"),
            tags.p("Updated ", tags.span("now", id="updated"),
                   class_="muted small"),
        ]


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
