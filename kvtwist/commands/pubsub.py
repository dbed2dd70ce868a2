# -*- test-case-name: kvtwist.test.test_pubsub -*-
"""
Pub/sub (Redis's C{pubsub} group): SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE,
PUNSUBSCRIBE, PUBLISH, PUBSUB CHANNELS | NUMSUB | NUMPAT.

The handlers work on the memory backend's hub
(L{kvtwist.backends.pubsub.Hub}, C{ctx.factory.backend.hub}).  A client
can subscribe where its connection can show what it is sent: RESP (RESP2's
subscribed mode, or RESP3's push messages) and the text protocol for
people (messages as readable lines); a colon or JSON-lines request, or a
caller without a connection, is refused.
"""

from kvtwist.commands.registry import group
from kvtwist.replies import Error, Status, wrongArity

command = group("pubsub")

#: The flags of the (un)subscribing commands.
_SUBSCRIBING = "pubsub noscript loading stale"

#: The dialects whose connections show pushed messages.
_RECEIVERS = frozenset(["resp", "text"])

NO_HUB = Error("ERR pub/sub is not available on this server's backend")


def _hub(ctx):
    """
    The hub of C{ctx}'s server, or L{None}.
    """
    backend = getattr(ctx.factory, "backend", None)
    return getattr(backend, "hub", None)


def _receiver(ctx, name: str):
    """
    The hub, if C{ctx}'s client can receive messages; else the L{Error}
    to answer.
    """
    hub = _hub(ctx)
    if hub is None:
        return NO_HUB
    client = ctx.client
    if client.push is None or client.dialect not in _RECEIVERS:
        return Error("ERR %s needs a connection that can receive messages "
                     "(RESP, or the text protocol)" % (name,))
    return hub


def _toReceiver(ctx, name: str, args):
    """
    (P)(UN)SUBSCRIBE: the hub's method of that name, for this client,
    where it can receive messages (L{_receiver}).
    """
    hub = _receiver(ctx, name)
    if hub.__class__ is Error:
        return hub
    return getattr(hub, name.lower())(ctx.client, args)


@command("SUBSCRIBE", -2, _SUBSCRIBING,
         "Listen for messages published to channels.", (0, 0, 0),
         syntax="SUBSCRIBE channel [channel ...]")
def subscribe(ctx, args):
    return _toReceiver(ctx, "SUBSCRIBE", args)


@command("UNSUBSCRIBE", -1, _SUBSCRIBING,
         "Stop listening to channels (all of them, without any).", (0, 0, 0),
         syntax="UNSUBSCRIBE [channel [channel ...]]")
def unsubscribe(ctx, args):
    return _toReceiver(ctx, "UNSUBSCRIBE", args)


@command("PSUBSCRIBE", -2, _SUBSCRIBING,
         "Listen for messages published to channels matching glob "
         "patterns.", (0, 0, 0),
         syntax="PSUBSCRIBE pattern [pattern ...]")
def psubscribe(ctx, args):
    return _toReceiver(ctx, "PSUBSCRIBE", args)


@command("PUNSUBSCRIBE", -1, _SUBSCRIBING,
         "Stop listening to patterns (all of them, without any).", (0, 0, 0),
         syntax="PUNSUBSCRIBE [pattern [pattern ...]]")
def punsubscribe(ctx, args):
    return _toReceiver(ctx, "PUNSUBSCRIBE", args)


@command("PUBLISH", 3, "pubsub loading stale fast",
         "Send a message to a channel's subscribers; how many got it.",
         (0, 0, 0), syntax="PUBLISH channel message")
def publish(ctx, args):
    hub = _hub(ctx)
    if hub is None:
        return NO_HUB
    return hub.publish(args[0], args[1])


#: PUBSUB HELP, as Redis words it.
PUBSUB_HELP = [
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> "
    "(default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, "
    "excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a "
    "<pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level "
    "channel(s)",
    "HELP",
    "    Prints this help.",
]


@command("PUBSUB", -2, "",
         "About pub/sub: active channels, subscribers per channel, "
         "patterns.", (0, 0, 0),
         syntax="PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | "
                "NUMPAT | HELP",
         subcommands={"CHANNELS": (-2, "pubsub loading stale"),
                      "NUMSUB": (-2, "pubsub loading stale"),
                      "NUMPAT": (2, "pubsub loading stale"),
                      "SHARDCHANNELS": (-2, "pubsub loading stale"),
                      "SHARDNUMSUB": (-2, "pubsub loading stale"),
                      "HELP": (2, "loading stale")})
def pubsub(ctx, args):
    sub = args[0].upper()
    if sub == b"HELP" and len(args) == 1:
        return [Status(line) for line in PUBSUB_HELP]
    if sub == b"NUMPAT" and len(args) > 1:
        return wrongArity("pubsub|numpat")
    if sub == b"SHARDCHANNELS" and len(args) <= 2:
        return []
    if sub == b"SHARDNUMSUB":
        return [x for c in args[1:] for x in (c, 0)]
    hub = _hub(ctx)
    if sub == b"CHANNELS" and len(args) <= 2:
        if hub is None:
            return NO_HUB
        return hub.channels(args[1] if len(args) == 2 else None)
    if sub == b"NUMSUB":
        if hub is None:
            return NO_HUB
        return [x for pair in hub.numsub(args[1:]) for x in pair]
    if sub == b"NUMPAT":
        if hub is None:
            return NO_HUB
        return hub.numpat()
    shown = args[0].decode("utf-8", "replace")
    if sub not in _SUBCOMMANDS:
        return Error("ERR unknown subcommand '%s'. Try PUBSUB HELP."
                     % (shown,))
    return Error("ERR unknown subcommand or wrong number of arguments for "
                 "'%s'. Try PUBSUB HELP." % (shown,))


_SUBCOMMANDS = frozenset([b"CHANNELS", b"NUMSUB", b"NUMPAT", b"HELP",
                          b"SHARDCHANNELS", b"SHARDNUMSUB"])
