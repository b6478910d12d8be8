"""Pub/Sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB, SSUBSCRIBE,
SUNSUBSCRIBE, SPUBLISH, and keyspace notifications (pubsub.c, notify.c).

Server side: srv.pubsub_channels / srv.pubsub_shard map a channel to {client: None}
(subscription order), srv.pubsub_patterns maps a pattern to (matcher, {client: None}).
Client side: c.channels, c.patterns, c.shard_channels are ordered sets (dicts), and
c.subscribed is their total size (the dispatcher's RESP2 restriction and the "P" flag).

Subscription replies are pushes: they bypass CLIENT REPLY OFF/SKIP as in Redis, so the
handlers append them to c.out themselves. Messages to other clients go out at once
through c.write (which also enforces client-output-buffer-limit pubsub).
"""
from __future__ import annotations   # (the compiled build types the annotated names)

from .table import command
from .. import hooks
from ..errors import CommandError
from ..glob import compile_glob
from ..resp.encode import BULK_HEADS, bulk, integer, array
from .help import help_reply
from . import connection

_NULL = {2: b"$-1\r\n", 3: b"_\r\n"}
_HDR3 = {2: b"*3\r\n", 3: b">3\r\n"}
_HDR4 = {2: b"*4\r\n", 3: b">4\r\n"}
_B_MESSAGE = bulk(b"message")
_B_PMESSAGE = bulk(b"pmessage")
_B_SMESSAGE = bulk(b"smessage")
_F_MESSAGE = b"*3\r\n" + _B_MESSAGE       # a message frame's start
_F_SMESSAGE = b"*3\r\n" + _B_SMESSAGE
_B_SUBSCRIBE = bulk(b"subscribe")
_B_UNSUBSCRIBE = bulk(b"unsubscribe")
_B_PSUBSCRIBE = bulk(b"psubscribe")
_B_PUNSUBSCRIBE = bulk(b"punsubscribe")
_B_SSUBSCRIBE = bulk(b"ssubscribe")
_B_SUNSUBSCRIBE = bulk(b"sunsubscribe")


# -- low level ---------------------------------------------------------------------------
def _count(c: Client):
    """clientSubscriptionsCount: channels + patterns (shard channels count apart)."""
    return len(c.channels) + len(c.patterns)


def _sync(c: Client):
    n = len(c.channels) + len(c.patterns) + len(c.shard_channels)
    if (n > 0) != (c.subscribed > 0):
        c.subscribed = n
        c.update_checks()
    else:
        c.subscribed = n


def _subscribe(c: Client, channel, shard):
    mine = c.shard_channels if shard else c.channels
    if channel not in mine:
        mine[channel] = None
        table = c.server.pubsub_shard if shard else c.server.pubsub_channels
        clients = table.get(channel)
        if clients is None:
            table[channel] = {c: None}
            if shard and c.server.cluster is not None:
                slot_to_channel(c.server, channel, True)
        else:
            clients[c] = None
    n = len(mine) if shard else len(c.channels) + len(c.patterns)
    return (_HDR3[c.resp] + (_B_SSUBSCRIBE if shard else _B_SUBSCRIBE) + bulk(channel)
            + integer(n))


def _unsubscribe(c: Client, channel, shard, notify=True):
    mine = c.shard_channels if shard else c.channels
    if channel in mine:
        del mine[channel]
        table = c.server.pubsub_shard if shard else c.server.pubsub_channels
        clients = table.get(channel)
        if clients is not None:
            clients.pop(c, None)
            if not clients:
                del table[channel]
                if shard and c.server.cluster is not None:
                    slot_to_channel(c.server, channel, False)
    if not notify:
        return None
    n = len(mine) if shard else len(c.channels) + len(c.patterns)
    return (_HDR3[c.resp] + (_B_SUNSUBSCRIBE if shard else _B_UNSUBSCRIBE) + bulk(channel)
            + integer(n))


def _psubscribe(c: Client, pattern):
    if pattern not in c.patterns:
        c.patterns[pattern] = None
        table = c.server.pubsub_patterns
        entry = table.get(pattern)
        if entry is None:
            table[pattern] = (compile_glob(pattern), {c: None})
        else:
            entry[1][c] = None
    return _HDR3[c.resp] + _B_PSUBSCRIBE + bulk(pattern) + integer(_count(c))


def _punsubscribe(c: Client, pattern, notify=True):
    if pattern in c.patterns:
        del c.patterns[pattern]
        table = c.server.pubsub_patterns
        entry = table.get(pattern)
        if entry is not None:
            entry[1].pop(c, None)
            if not entry[1]:
                del table[pattern]
    if not notify:
        return None
    return _HDR3[c.resp] + _B_PUNSUBSCRIBE + bulk(pattern) + integer(_count(c))


def _none_reply(c: Client, kind):
    """The reply to a mass unsubscribe when there was nothing to leave."""
    return _HDR3[c.resp] + kind + _NULL[c.resp] + integer(
        len(c.shard_channels) if kind is _B_SUNSUBSCRIBE else _count(c))


def unsubscribe_all(c: Client, notify=False):
    """Leave every channel, pattern and shard channel (disconnect, RESET)."""
    out = []
    for ch in list(c.channels):
        out.append(_unsubscribe(c, ch, False, notify))
    for p in list(c.patterns):
        out.append(_punsubscribe(c, p, notify))
    for ch in list(c.shard_channels):
        out.append(_unsubscribe(c, ch, True, notify))
    _sync(c)
    return out


def slot_to_channel(srv, channel, add):
    """slotToChannelAdd / slotToChannelDel (cluster mode): the per-slot shard channels."""
    from ..cluster.keyindex import channel_added, channel_removed
    (channel_added if add else channel_removed)(srv, channel)


def shard_unsubscribe_all_clients(srv, channel):
    """pubsubShardUnsubscribeAllClients: every subscriber of a shard channel leaves it,
    each told with an sunsubscribe push (the cluster dropped the channel's slot)."""
    clients = srv.pubsub_shard.pop(channel, None)
    for c in tuple(clients or ()):
        c.shard_channels.pop(channel, None)
        c.write(_HDR3[c.resp] + _B_SUNSUBSCRIBE + bulk(channel)
                + integer(len(c.shard_channels)))
        _sync(c)
    if srv.cluster is not None:
        slot_to_channel(srv, channel, False)


def publish(srv: RedisServer, channel, message, shard=False):
    """pubsubPublishMessage: deliver to channel subscribers, then (not for shard
    channels) to every matching pattern. Returns the number of receivers."""
    t: Client
    receivers = 0
    table = srv.pubsub_shard if shard else srv.pubsub_channels
    clients = table.get(channel)
    if clients:
        if len(channel) < 1024 and len(message) < 1024:   # (a join beats %-formatting)
            frame = b"".join((_F_SMESSAGE if shard else _F_MESSAGE, BULK_HEADS[len(channel)],
                              channel, b"\r\n", BULK_HEADS[len(message)], message, b"\r\n"))
        else:
            frame = b"*3\r\n%s$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
                _B_SMESSAGE if shard else _B_MESSAGE, len(channel), channel, len(message),
                message)
        push = None                  # the RESP3 frame, made for the first RESP3 subscriber
        targets = tuple(clients)     # (a write may close a client: it unsubscribes)
        for t in targets:
            if t.resp == 3:
                if push is None:
                    push = b">" + frame[1:]
                t.write(push)
            else:
                t.write(frame)
        receivers = len(targets)
    if shard or not srv.pubsub_patterns:
        return receivers
    tail = None
    for pattern, (match, pclients) in list(srv.pubsub_patterns.items()):
        if not match(channel):
            continue
        if tail is None:
            tail = bulk(channel) + bulk(message)
        body = _B_PMESSAGE + bulk(pattern) + tail
        frames = {}
        for t in tuple(pclients):
            f = frames.get(t.resp)
            if f is None:
                f = frames[t.resp] = _HDR4[t.resp] + body
            t.write(f)
            receivers += 1
    return receivers


def _push(c: Client, frames):
    """Subscription replies are pushes: they go out even with CLIENT REPLY OFF/SKIP.
    Returns the (empty) command reply so that a pending SKIP is consumed."""
    c.out.append(b"".join(frames))
    return b""


# -- commands ----------------------------------------------------------------------------
@command("subscribe")
def subscribe(c: Client, argv):
    if c.in_exec and c.multi is None:
        raise CommandError("ERR SUBSCRIBE isn't allowed for a DENY BLOCKING client")
    frames = [_subscribe(c, ch, False) for ch in argv[1:]]
    _sync(c)
    return _push(c, frames)


@command("ssubscribe")
def ssubscribe(c: Client, argv):
    if c.in_exec:
        raise CommandError("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
    frames = [_subscribe(c, ch, True) for ch in argv[1:]]
    _sync(c)
    return _push(c, frames)


@command("psubscribe")
def psubscribe(c: Client, argv):
    if c.in_exec and c.multi is None:
        raise CommandError("ERR PSUBSCRIBE isn't allowed for a DENY BLOCKING client")
    frames = [_psubscribe(c, p) for p in argv[1:]]
    _sync(c)
    return _push(c, frames)


@command("unsubscribe")
def unsubscribe(c: Client, argv):
    if len(argv) == 1:
        frames = [_unsubscribe(c, ch, False) for ch in list(c.channels)]
        if not frames:
            frames.append(_none_reply(c, _B_UNSUBSCRIBE))
    else:
        frames = [_unsubscribe(c, ch, False) for ch in argv[1:]]
    _sync(c)
    return _push(c, frames)


@command("sunsubscribe")
def sunsubscribe(c: Client, argv):
    if len(argv) == 1:
        frames = [_unsubscribe(c, ch, True) for ch in list(c.shard_channels)]
        if not frames:
            frames.append(_none_reply(c, _B_SUNSUBSCRIBE))
    else:
        frames = [_unsubscribe(c, ch, True) for ch in argv[1:]]
    _sync(c)
    return _push(c, frames)


@command("punsubscribe")
def punsubscribe(c: Client, argv):
    if len(argv) == 1:
        frames = [_punsubscribe(c, p) for p in list(c.patterns)]
        if not frames:
            frames.append(_none_reply(c, _B_PUNSUBSCRIBE))
    else:
        frames = [_punsubscribe(c, p) for p in argv[1:]]
    _sync(c)
    return _push(c, frames)


@command("publish")
def publish_cmd(c: Client, argv):
    srv: RedisServer = c.server
    n = publish(srv, argv[1], argv[2])
    cl = srv.cluster
    if cl is None:
        srv.propagate(c.db.id, argv)   # forceCommandPropagation(PROPAGATE_REPL)
    else:   # pubsubPublishMessageAndPropagateToCluster: the bus, not the replication stream
        cl.propagate_publish(argv[1], argv[2], False)
    return integer(n)


@command("spublish")
def spublish_cmd(c: Client, argv):
    srv = c.server
    n = publish(srv, argv[1], argv[2], shard=True)
    cl = srv.cluster
    if cl is None:
        srv.propagate(c.db.id, argv)
    else:
        cl.propagate_publish(argv[1], argv[2], True)
    return integer(n)


# -- PUBSUB introspection ----------------------------------------------------------------
def _channel_list(table, argv):
    if len(argv) == 3:
        match = compile_glob(argv[2])
        return array([ch for ch in table if match(ch)])
    return array(list(table))


def _numsub(table, argv):
    parts = [b"*%d\r\n" % (2 * (len(argv) - 2))]
    for ch in argv[2:]:
        clients = table.get(ch)
        parts.append(bulk(ch))
        parts.append(integer(len(clients) if clients else 0))
    return b"".join(parts)


@command("pubsub|channels")
def pubsub_channels(c: Client, argv):
    if len(argv) > 3:
        raise _pubsub_syntax(argv)
    return _channel_list(c.server.pubsub_channels, argv)


@command("pubsub|shardchannels")
def pubsub_shardchannels(c: Client, argv):
    if len(argv) > 3:
        raise _pubsub_syntax(argv)
    return _channel_list(c.server.pubsub_shard, argv)


@command("pubsub|numsub")
def pubsub_numsub(c: Client, argv):
    return _numsub(c.server.pubsub_channels, argv)


@command("pubsub|shardnumsub")
def pubsub_shardnumsub(c: Client, argv):
    return _numsub(c.server.pubsub_shard, argv)


@command("pubsub|numpat")
def pubsub_numpat(c: Client, argv):
    return integer(len(c.server.pubsub_patterns))


_HELP = [
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
]


@command("pubsub|help")
def pubsub_help(c: Client, argv):
    return help_reply(argv, _HELP)


def _pubsub_syntax(argv):
    return CommandError("ERR unknown subcommand or wrong number of arguments for '%.128s'. "
                        "Try %s HELP." % (argv[1].decode("utf-8", "replace"),
                                          argv[0].decode("utf-8", "replace").upper()))


# -- keyspace notifications (notify.c) ---------------------------------------------------
def _install(srv):
    srv.pubsub_channels = {}
    srv.pubsub_patterns = {}
    srv.pubsub_shard = {}
    KEYSPACE = srv.NOTIFY_KEYSPACE
    KEYEVENT = srv.NOTIFY_KEYEVENT

    def notify(type_flag, event, key, dbid):
        """notifyKeyspaceEvent: __keyspace@<db>__:<key> <event> and
        __keyevent@<db>__:<event> <key>, per the K and E flags."""
        if not srv.pubsub_channels and not srv.pubsub_patterns:
            return   # nobody can receive it
        flags = srv.notify_flags
        if flags & KEYSPACE:
            publish(srv, b"__keyspace@%d__:%s" % (dbid, key), event)
        if flags & KEYEVENT:
            publish(srv, b"__keyevent@%d__:%s" % (dbid, event), key)

    srv.notify_hook = notify
    srv.disconnect_hooks.append(_drop)


def _drop(c: Client):
    if c.subscribed:
        unsubscribe_all(c, notify=False)


hooks.server_init.append(_install)
connection.reset_hooks.append(_drop)
