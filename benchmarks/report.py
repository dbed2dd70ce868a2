# -*- test-case-name: benchmarks.test.test_report -*-
"""
From measurements to figures: medians, ratios, the summary of alternated
rounds, and the plain-text tables the benchmark prints.
"""

import statistics
from typing import Any, Dict, Iterable, List, Optional, Sequence


def median(values: Iterable[Optional[float]]) -> Optional[float]:
    """
    The median of C{values}, or L{None} if there are none (L{None} items
    are skipped).
    """
    present = [v for v in values if v is not None]
    if not present:
        return None
    return statistics.median(present)


def combinedRate(rates: Sequence[Optional[float]]) -> Optional[float]:
    """
    The rate of running the same number of requests of each test one after
    the other: the harmonic mean of the rates (SET+GET from SET and GET).
    """
    if not rates or any(r is None or r <= 0 for r in rates):
        return None
    return len(rates) / sum(1.0 / r for r in rates)


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    """
    C{a / b}, or L{None} if either is missing or C{b} is zero.
    """
    if a is None or b is None or b == 0:
        return None
    return a / b


def summarizeRounds(rounds: List[Dict[str, Dict[str, float]]],
                    subject: str = "kvtwist",
                    baseline: str = "redis") -> List[Dict[str, Any]]:
    """
    Summarise alternated throughput rounds.

    @param rounds: one item per round: server name -> row name (such as
        C{"SET P1"}) -> requests per second.  A row C{"SET+GET P1"} is added
        for each pipeline depth for which both SET and GET are present.
    @return: one row per row name, in first-seen order: C{name},
        C{subject} (median rps), C{baseline} (median rps), C{ratio} (median
        of the per-round ratios, which pairs each run with its neighbour)
        and C{ratios} (the per-round ratios).
    """
    names: List[str] = []
    expanded = []
    for rnd in rounds:
        full = {}
        for server, rows in rnd.items():
            rows = dict(rows)
            for name in list(rows):
                if name.startswith("SET "):
                    rest = name[len("SET "):]
                    if "GET " + rest in rows:
                        rows["SET+GET " + rest] = combinedRate(
                            [rows[name], rows["GET " + rest]])
            full[server] = rows
            for name in rows:
                if name not in names:
                    names.append(name)
        expanded.append(full)
    summary = []
    for name in names:
        mine = [r.get(subject, {}).get(name) for r in expanded]
        theirs = [r.get(baseline, {}).get(name) for r in expanded]
        ratios = [ratio(a, b) for a, b in zip(mine, theirs)]
        summary.append({
            "name": name,
            subject: median(mine),
            baseline: median(theirs),
            "ratio": median(ratios),
            "ratios": ratios,
        })
    return summary


def formatTable(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """
    Lay out rows as a plain-text table: first column left-aligned, the
    others right-aligned; L{None} shows as C{-}, floats with sensible
    precision.
    """
    def cell(value):
        if value is None:
            return "-"
        if isinstance(value, float):
            if abs(value) >= 1000:
                return "{:,.0f}".format(value)
            if abs(value) >= 10:
                return "%.1f" % (value,)
            return "%.2f" % (value,)
        if isinstance(value, int):
            return "{:,}".format(value)
        return str(value)
    text = [[cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))

    def line(values):
        out = []
        for i, value in enumerate(values):
            out.append(value.ljust(widths[i]) if i == 0
                       else value.rjust(widths[i]))
        return "  ".join(out).rstrip()
    result = [line(list(headers)),
              "  ".join("-" * w for w in widths)]
    result.extend(line(row) for row in text)
    return "\n".join(result)


def rowLabel(name: str) -> str:
    """
    A row name for people: C{"SET P16"} -> C{"SET -P 16"}.
    """
    test, _, depth = name.rpartition(" P")
    if test and depth.isdigit():
        return "%s -P %s" % (test, depth)
    return name


def throughputTable(results: Dict[str, Any]) -> str:
    """
    The requests-per-second table of L{benchmarks.throughput.alternate}'s
    results.
    """
    rows = []
    for name, result in results.items():
        for row in result["summary"] + result["textSummary"]:
            label = rowLabel(row["name"])
            rows.append([name, label, row["kvtwist"], row["redis"],
                         row["ratio"],
                         " ".join("-" if r is None else "%.2f" % r
                                  for r in row["ratios"])])
    return formatTable(["kvtwist on", "test", "kvtwist rps", "redis rps",
                        "ratio", "per round"], rows)


def figuresTable(big: Dict[str, Any], idle: Dict[str, Any]) -> str:
    """
    The big-store and idle-connection figures, one column per server.
    """
    names = list(big) or list(idle)
    for name in idle:
        if name not in names:
            names.append(name)

    def get(table, name, field):
        return table.get(name, {}).get(field)

    redisKey = get(big, "redis", "bytesPerKey")
    rows = [
        ["RSS of the empty server, warmed up (MB)", "rssWarm"],
        ["keys loaded", "keys"],
        ["load time (s)", "loadSeconds"],
        ["memory per key (bytes)", "bytesPerKey"],
        ["  ratio to redis", None],
        ["BGSAVE duration (s)", "bgsaveSeconds"],
        ["worst PING in BGSAVE, probe (ms)", "pingWorstMs"],
        ["worst PING in BGSAVE, redis-benchmark (ms)",
         "benchmarkPingWorstMs"],
        ["stop, SIGTERM to exit (s)", "stopSeconds"],
        ["restart until PING (s)", "pingAfterRestartSeconds"],
        ["restart until all keys (s)", "restartSeconds"],
        ["idle connections held", "alive"],
        ["sample PINGs answered", "sampleAnswered"],
        ["memory per connection (bytes)", "bytesPerConnection"],
    ]
    out = []
    for label, field in rows:
        line = [label]
        for name in names:
            if field is None:
                line.append(ratio(get(big, name, "bytesPerKey"), redisKey))
            elif field in ("alive", "sampleAnswered"):
                value = get(idle, name, field)
                total = get(idle, name,
                            "requested" if field == "alive" else "sampled")
                line.append(None if value is None
                            else "%d/%d" % (value, total))
            elif field == "bytesPerConnection":
                line.append(get(idle, name, field))
            elif field == "rssWarm":
                value = get(big, name, field)
                line.append(None if value is None else value / 1e6)
            else:
                line.append(get(big, name, field))
        out.append(line)
    return formatTable(["figure"] + names, out)
