"""Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH (multi.c).

The dispatcher queues commands while c.multi is a list (Client.check) and flags the
transaction (c.multi_error) when one is rejected while queueing. WATCH keeps, per
database, key -> {client: None} in db.watched and, per client, c.watched_keys:
(db, key) -> "already expired when watched". Writes call db.touch(key), which flags the
watchers (c.dirty_cas) and drops their watches (db.touch_watched); FLUSHDB/FLUSHALL/
SWAPDB use db.touch_all_watched. Clients that watch nothing pay nothing.
"""
from .table import command, COMMANDS
from .. import hooks
from ..db import unwatch_all
from ..errors import CommandError
from ..resp.encode import OK, error
from . import connection

EXECABORT = "EXECABORT Transaction discarded because of previous errors."
_ACL_REASONS = (("of the keys", "no permission to touch the specified keys"),
                ("of the channels",
                 "no permission to access one of the channels used as arguments"),
                ("command", "no permission to execute the command or subcommand"))


def discard_transaction(c):
    """discardTransaction: leave MULTI state and forget the watches."""
    c.multi = None
    c.multi_error = False
    c.dirty_cas = False
    unwatch_all(c)
    c.update_checks()


def exec_abort(c, msg):
    """execCommandAbort: EXEC itself was rejected (arity, server state...). Returns the
    error text to send; the transaction is discarded."""
    discard_transaction(c)
    if msg.startswith("ERR "):
        msg = msg[4:]
    srv = c.server
    if srv.monitors:
        srv.feed_monitors(c, [b"exec"])
    return "EXECABORT Transaction discarded because of: " + msg


def queued_flags(c):
    """mstate.cmd_flags / cmd_inv_flags for processCommand's checks on EXEC: a dict with
    write, readonly, denyoom, may_replicate (some queued command has the flag) and
    deny_stale, deny_loading (some queued command lacks STALE / LOADING)."""
    f = {"write": False, "readonly": False, "denyoom": False, "may_replicate": False,
         "deny_stale": False, "deny_loading": False}
    srv = c.server
    for cmd, argv in c.multi or ():
        sf = None
        if cmd.name in _SCRIPT_CMDS:
            # getCommandFlags: a script's declared flags stand for the command's
            from ..scripting.eval import script_command_flags
            from ..scripting import engine as E
            sf = script_command_flags(srv, cmd.name, argv)
        if sf is None:
            f["write"] |= cmd.is_write
            f["denyoom"] |= cmd.denyoom
            f["may_replicate"] |= cmd.may_replicate or cmd.is_write
            f["deny_stale"] |= not cmd.stale
        else:
            write = not sf & E.FLAG_NO_WRITES
            f["write"] |= write
            f["denyoom"] |= not sf & (E.FLAG_ALLOW_OOM | E.FLAG_NO_WRITES)
            f["may_replicate"] |= write
            f["deny_stale"] |= not sf & E.FLAG_ALLOW_STALE
        f["readonly"] |= cmd.is_readonly
        f["deny_loading"] |= not cmd.loading
    return f


_SCRIPT_CMDS = frozenset(("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"))


def watched_key_expired(c):
    """isWatchedKeyExpired: a key that was alive when WATCHed has expired since."""
    for (db, key), was_expired in c.watched_keys.items():
        if not was_expired and db.key_is_expired(key):
            return True
    return False


@command("multi")
def multi(c, argv):
    if c.multi is not None:
        raise CommandError("ERR MULTI calls can not be nested")
    c.multi = []
    c.update_checks()
    return OK


@command("discard")
def discard(c, argv):
    if c.multi is None:
        raise CommandError("ERR DISCARD without MULTI")
    discard_transaction(c)
    return OK


@command("exec")
def exec_(c, argv):
    if c.multi is None:
        raise CommandError("ERR EXEC without MULTI")
    if c.watched_keys and watched_key_expired(c):
        c.dirty_cas = True
    if c.multi_error or c.dirty_cas:
        aborted = c.multi_error
        discard_transaction(c)
        if aborted:
            raise CommandError(EXECABORT)
        return c.r.null_array
    queued = c.multi
    unwatch_all(c)
    srv = c.server
    out = c.out
    start = len(out)
    mode = c.reply_mode
    c.reply_mode = 0
    c.in_exec = True
    own_batch = srv.propagate_begin()
    call = c.call
    acl = srv.acl
    # call()'s fixed_time_expire: the commands of the transaction see the time EXEC
    # started at (a key does not expire between them; SET PX within it counts from it)
    fixed = "time_ms" not in srv.__dict__
    if fixed:
        now = srv.time_ms()
        srv.time_ms = lambda: now
    try:
        for cmd, args in queued:
            if acl is not None:
                denied = srv.acl_check(c, cmd, args)
                if denied is not None:
                    out.append(_acl_changed(c, denied))
                    continue
            call(cmd, args)
    finally:
        c.in_exec = False
        if fixed:
            srv.__dict__.pop("time_ms", None)
        if own_batch:
            srv.propagate_end()
        discard_transaction(c)
        if c.reply_mode == 0:
            c.reply_mode = mode
    replies = out[start:]
    del out[start:]
    return b"*%d\r\n" % len(queued) + b"".join(replies)


def _acl_changed(c, denied):
    """A queued command the user may no longer run (ACL changed before EXEC)."""
    reason = "no permission"
    for word, text in _ACL_REASONS:
        if word in denied:
            reason = text
            break
    reply = error("NOPERM ACLs rules changed between the moment the transaction was "
                  "accumulated and the EXEC call. This command is no longer allowed for the "
                  "following reason: " + reason)
    c.server.count_error(reply)
    COMMANDS[b"exec"].failed_calls += 1
    return reply


@command("watch")
def watch(c, argv):
    if c.multi is not None:
        raise CommandError("ERR WATCH inside MULTI is not allowed")
    if c.dirty_cas:
        return OK   # EXEC will fail anyway
    db = c.db
    wk = c.watched_keys
    watched = db.watched
    for key in argv[1:]:
        ident = (db, key)
        if ident in wk:
            continue
        clients = watched.get(key)
        if clients is None:
            watched[key] = {c: None}
        else:
            clients[c] = None
        wk[ident] = db.key_is_expired(key)
    return OK


@command("unwatch")
def unwatch(c, argv):
    unwatch_all(c)
    c.dirty_cas = False
    return OK


def _forget(c):
    if c.watched_keys:
        unwatch_all(c)


def _install(srv):
    srv.disconnect_hooks.append(_forget)


hooks.server_init.append(_install)
connection.reset_hooks.append(_forget)
