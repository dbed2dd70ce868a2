# -*- test-case-name: kvtwist.test.test_commands -*-
"""
The command reference (C{docs/commands.md}), written from the command
table: each command's syntax, summary, arity, flags and key positions.
C{python -m kvtwist.commands} prints it.
"""

from typing import Dict, List

from kvtwist.commands.registry import Command

#: Redis's command groups, in the order the reference gives them; a group
#: not listed comes after them, under its own name.
GROUPS = [
    ("string", "Strings"),
    ("list", "Lists"),
    ("hash", "Hashes"),
    ("set", "Sets"),
    ("sorted-set", "Sorted sets"),
    ("bitmap", "Bitmaps"),
    ("generic", "Keys of any type"),
    ("transactions", "Transactions"),
    ("pubsub", "Publish and subscribe"),
    ("scripting", "Scripting"),
    ("connection", "The connection"),
    ("server", "The server"),
    ("cluster", "The cluster"),
]

_INTRO = """\
# Commands

Every command kvtwist runs, in every dialect (RESP, text, colon, JSON
lines), by Redis's command groups. For each: how to call it, what it does,
and what the command table knows of it: its arity (the number of words
with the name; negative: at least that many), its flags, and where its
keys are (first key, last key, step: a Redis Cluster router routes by
them). Those whose summary ends with "kvtwist" are not Redis's. `HELP
command` gives the same syntax and summary from a running server.

This file is written from the command table by `python -m kvtwist.commands
> docs/commands.md`; a test checks that it is current.
"""


def _keys(cmd: Command) -> str:
    if not cmd.firstKey:
        return "none"
    last = {-1: "the last argument"}.get(
        cmd.lastKey, "argument %d" % (cmd.lastKey,))
    if cmd.firstKey == cmd.lastKey:
        return "argument %d" % (cmd.firstKey,)
    step = "" if cmd.step == 1 else ", every %d" % (cmd.step,)
    return "argument %d to %s%s" % (cmd.firstKey, last, step)


def _entry(cmd: Command) -> List[str]:
    flags = ", ".join(cmd.flags) or "none"
    return [
        "### %s" % (cmd.name,),
        "",
        "    %s" % (cmd.syntax,),
        "",
        cmd.summary,
        "",
        "Arity %d; keys: %s (%d, %d, %d); flags: %s." % (
            cmd.arity, _keys(cmd), cmd.firstKey, cmd.lastKey, cmd.step,
            flags),
        "",
    ] + _subcommands(cmd)


def _subcommands(cmd: Command) -> List[str]:
    if not cmd.subcommands:
        return []
    lines = ["Subcommands:", ""]
    for sub in sorted(cmd.subcommands.values(), key=lambda c: c.name):
        lines.append("- %s: arity %d; keys: %s; flags: %s." % (
            sub.name, sub.arity, _keys(sub), ", ".join(sub.flags) or "none"))
    return lines + [""]


def markdown(table: Dict[bytes, Command]) -> str:
    """
    The reference of every command of C{table}, as Markdown.
    """
    lines = [_INTRO]
    known = dict(GROUPS)
    others = sorted({(c.group, c.group.replace("_", " ").capitalize())
                     for c in table.values() if c.group not in known})
    for group, title in GROUPS + others:
        members = sorted((c for c in table.values() if c.group == group),
                         key=lambda c: c.name)
        if not members:
            continue
        lines.append("## %s" % (title,))
        lines.append("")
        for cmd in members:
            lines.extend(_entry(cmd))
    return "\n".join(lines).rstrip("\n") + "\n"
