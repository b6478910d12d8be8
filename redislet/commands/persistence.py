"""RDB persistence commands and machinery: SAVE, BGSAVE [SCHEDULE], DUMP, RESTORE,
DEBUG RELOAD, the start-up load of `dir`/`dbfilename`, save points (`save` directive)
checked from the cron like serverCron, stop-writes-on-bgsave-error (MISCONF), the RDB
fields of INFO persistence, saving on SHUTDOWN / SIGTERM and after FLUSHALL.

Server state (attributes of the server): stat_rdb_saves, lastbgsave_status (True = ok),
lastbgsave_try, rdb_save_time_start, rdb_save_time_last, dirty_before_bgsave,
rdb_bgsave_scheduled, rdb_last_load_keys_loaded / _expired, child_type ("rdb" while a
BGSAVE child or a full sync's child runs; the AOF family uses "aof") and child_pid.

`bgsave_done_hooks`: callables(srv, ok) run when a BGSAVE child finished (replication).
"""
import errno
import os
import signal
import time

from .table import command
from . import debug, info
from .keys import flush_hooks, NOTIFY_GENERIC
from .. import children, cli, hooks
from ..db import restored_clock
from ..errors import CommandError, SYNTAX
from ..resp.encode import OK, bulk
from ..util import ll_arg as _ll
from ..persistence import loading, rdb

BGSAVE_RETRY_DELAY = 5
MISCONF_RDB = ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable "
               "to persist to disk. Commands that may modify the data set are disabled, "
               "because this instance is configured to report errors during writes if RDB "
               "snapshotting fails (stop-writes-on-bgsave-error option). Please check the "
               "Redis logs for details about the RDB error.")
ERR_REPLY = b"-ERR\r\n"

bgsave_done_hooks = []


def rdb_path(srv):
    return srv.config.values["dbfilename"]


def _save_info(srv):
    """rdbPopulateSaveInfo: replication aux fields, when replication provides them."""
    fn = getattr(srv, "rdb_save_info", None)
    return fn() if fn is not None else None


# -- SAVE / BGSAVE machinery ---------------------------------------------------------------
def save_now(srv):
    """rdbSave to the configured file (rdb.save logs); True on success (state updated)."""
    with srv.sync_signals():
        if not rdb.save(srv, rdb_path(srv), _save_info(srv)):
            return False
    srv.dirty = 0
    srv.lastsave = int(time.time())
    srv.lastbgsave_status = True
    return True


def has_active_child(srv):
    return getattr(srv, "child_type", None) is not None


def bgsave(srv):
    """rdbSaveBackground: True when the child was started."""
    if has_active_child(srv):
        return False
    before_bgsave(srv)
    t0 = time.monotonic()
    srv.child_type = "rdb"
    srv.rdb_save_time_start = int(time.time())
    try:
        pid = rdb.fork_save(srv, rdb_path(srv), lambda code, sig: _bgsave_done(srv, code, sig),
                            _save_info(srv))
    except OSError as e:
        srv.child_type = None
        srv.child_pid = -1
        srv.lastbgsave_status = False
        srv.log("warning", "Can't save in background: fork: %s" % os.strerror(e.errno))
        return False
    if pid is None:     # no fork: saved synchronously, already reported
        return True
    srv.child_pid = pid
    srv.stat_fork_time = int((time.monotonic() - t0) * 1000000)
    srv.stat_total_forks = getattr(srv, "stat_total_forks", 0) + 1
    srv.log("notice", "Background saving started by pid %d" % pid)
    return True


def before_bgsave(srv):
    """rdbSaveBackground's bookkeeping before its fork (a BGSAVE, or a full sync's save to
    disk)."""
    srv.stat_rdb_saves += 1
    srv.dirty_before_bgsave = srv.dirty
    srv.lastbgsave_try = int(time.time())


def bgsave_finished(srv, ok, bysignal, pid):
    """backgroundSaveDoneHandlerDisk's bookkeeping, after its log line (a BGSAVE's
    child, or a full sync's that saved to disk)."""
    if ok:
        srv.dirty = srv.dirty - srv.dirty_before_bgsave
        srv.lastsave = int(time.time())
        srv.lastbgsave_status = True
    elif not bysignal:
        srv.lastbgsave_status = False
    else:
        remove_temp(pid)
        if bysignal != signal.SIGUSR1:   # SIGUSR1 kills a child without an error condition
            srv.lastbgsave_status = False
    _update_misconf(srv)


def _bgsave_done(srv, exitcode, bysignal):
    """backgroundSaveDoneHandlerDisk (checkChildrenDone's call for the BGSAVE child)."""
    ok = children.log_done(srv, "disk", exitcode, bysignal)
    bgsave_finished(srv, ok, bysignal, srv.child_pid)
    start = getattr(srv, "rdb_save_time_start", -1)
    srv.rdb_save_time_last = int(time.time()) - start if start != -1 else -1
    srv.rdb_save_time_start = -1
    if getattr(srv, "child_type", None) == "rdb":
        srv.child_type = None
        srv.child_pid = -1
    for hook in bgsave_done_hooks:
        hook(srv, not bysignal and exitcode == 0)


def remove_temp(pid):
    if pid and pid > 0:
        try:
            os.unlink("temp-%d.rdb" % pid)
        except OSError:
            pass


def kill_rdb_child(srv):
    """killRDBChild: SIGUSR1 to the RDB child, a BGSAVE's or a full sync's (no error
    condition); the cron reaps it later (checkChildrenDone: the done handler's line, the
    temp file removed)."""
    if srv.child_type != "rdb":
        return
    repl = getattr(srv, "repl", None)
    if repl is not None and repl.child is not None:
        repl.kill_child()
    else:
        children.kill(srv.child_pid)


# -- cron: save points, scheduled BGSAVE ----------------------------------------------------
def _cron(srv):
    rdb.reap_now(srv)
    if has_active_child(srv):
        return
    now = int(time.time())
    retry_ok = now - srv.lastbgsave_try > BGSAVE_RETRY_DELAY or srv.lastbgsave_status
    params = srv.config.values["save"]
    if params and retry_ok:
        dirty = srv.dirty
        for secs, changes in params:
            if dirty >= changes and now - srv.lastsave > secs:
                srv.log("notice", "%d changes in %d seconds. Saving..." % (changes, secs))
                bgsave(srv)
                break
    if srv.rdb_bgsave_scheduled and not has_active_child(srv) and retry_ok:
        if bgsave(srv):
            srv.rdb_bgsave_scheduled = False


# -- MISCONF (writeCommandsDeniedByDiskError) ----------------------------------------------
def _misconf_active(srv):
    v = srv.config.values
    return not srv.lastbgsave_status and v["stop-writes-on-bgsave-error"] and v["save"]


def _misconf_check(c, cmd, argv):
    if not _misconf_active(c.server):
        return None
    return disk_error_reply(c, cmd, MISCONF_RDB)


def _update_misconf(srv):
    set_disk_check(srv, _misconf_check, not srv.lastbgsave_status)


def set_disk_check(srv, check, on):
    """Install or remove a disk-error check (the RDB's MISCONF, the AOF's write error)
    ahead of the replication checks: processCommand tests the disk before NOREPLICAS and
    READONLY. srv.disk_checks lists them: while one is on, the master's stream on a
    replica takes the checked path too, and scripts ask them (scripting.engine)."""
    checks = srv.state_checks
    if on and check not in checks:
        repl = getattr(getattr(srv, "repl", None), "check_fn", None)
        checks.insert(checks.index(repl) if repl in checks else len(checks), check)
        srv.disk_checks.append(check)
    elif not on and check in checks:
        checks.remove(check)
        srv.disk_checks.remove(check)
    else:
        return
    srv.update_checks()


def disk_error_reply(c, cmd, msg):
    """processCommand while a disk error denies writes: msg for a write or a PING. A
    command of the master (or of the AOF being loaded) is applied instead: logged every
    10 s with replica-ignore-disk-write-errors (or for a PING), else Redis panics."""
    is_write = cmd.is_write
    if not is_write and cmd.name == "exec" and c.multi:
        is_write = any(q.is_write for q, _ in c.multi)
    if not is_write and cmd.name != "ping":
        return None
    if not c.must_obey_client():
        return msg
    srv = c.server
    if cmd.name != "ping" and not srv.config.values["replica-ignore-disk-write-errors"]:
        from .debug import _panic
        _panic(c, "Replica was unable to write command to disk.", "server.c:3890")
        return None
    now = time.monotonic()
    if now > getattr(srv, "disk_error_logged", -1e9) + 10:
        srv.disk_error_logged = now
        srv.log("warning", "Replica is applying a command even though it is unable to "
                "write to disk.")
    return None


# -- commands ------------------------------------------------------------------------------
@command("save")
def save_cmd(c, argv):
    srv = c.server
    if getattr(srv, "child_type", None) == "rdb":
        raise CommandError("ERR Background save already in progress")
    srv.stat_rdb_saves += 1
    if save_now(srv):
        _update_misconf(srv)
        return OK
    return ERR_REPLY


@command("bgsave")
def bgsave_cmd(c, argv):
    schedule = False
    if len(argv) > 1:
        if len(argv) == 2 and argv[1].lower() == b"schedule":
            schedule = True
        else:
            raise CommandError(SYNTAX)
    srv = c.server
    if getattr(srv, "child_type", None) == "rdb":
        raise CommandError("ERR Background save already in progress")
    if has_active_child(srv) or c.in_exec:
        if schedule or c.in_exec:
            srv.rdb_bgsave_scheduled = True
            return b"+Background saving scheduled\r\n"
        raise CommandError("ERR Another child process is active (AOF?): can't BGSAVE right "
                           "now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever "
                           "possible.")
    if bgsave(srv):
        return b"+Background saving started\r\n"
    return ERR_REPLY


@command("dump")
def dump_cmd(c, argv):
    v = c.db.lookup_read(argv[1])
    if v is None:
        return c.r.null
    return bulk(rdb.dump_payload(v, c.server.config.values))


@command("restore-asking")   # cluster.c: the same restoreCommand (CMD_ASKING in cluster mode)
@command("restore")
def restore_cmd(c, argv):
    srv = c.server
    replace = absttl = False
    lfu_freq = lru_idle = -1
    n = len(argv)
    j = 4
    while j < n:
        a = argv[j].lower()
        more = n - j - 1
        if a == b"replace":
            replace = True
        elif a == b"absttl":
            absttl = True
        elif a == b"idletime" and more >= 1 and lfu_freq == -1:
            lru_idle = _ll(argv[j + 1])
            if lru_idle < 0:
                raise CommandError("ERR Invalid IDLETIME value, must be >= 0")
            j += 1
        elif a == b"freq" and more >= 1 and lru_idle == -1:
            lfu_freq = _ll(argv[j + 1])
            if lfu_freq < 0 or lfu_freq > 255:
                raise CommandError("ERR Invalid FREQ value, must be >= 0 and <= 255")
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    key = argv[1]
    db = c.db
    if not replace and db.lookup(key) is not None:
        raise CommandError("BUSYKEY Target key name already exists.")
    ttl = _ll(argv[2])
    if ttl < 0:
        raise CommandError("ERR Invalid TTL value, must be >= 0")
    payload = argv[3]
    if not rdb.verify_payload(payload, not getattr(srv, "skip_checksum_validation", False)):
        raise CommandError("ERR DUMP payload version or checksum are wrong")
    ctx = rdb.new_ctx(rdb.sanitize_deep(srv, c))
    try:
        obj = rdb.load_value(memoryview(payload)[:-10].tobytes(), srv.config.values,
                             ctx=ctx)
    except rdb.RDBError as e:
        srv.stat_dump_payload_sanitizations = (
            getattr(srv, "stat_dump_payload_sanitizations", 0) + ctx.sanitizations)
        rdb.report_corrupt(srv, e, True)
        raise CommandError("ERR Bad data format") from None
    if ctx.sanitizations:
        srv.stat_dump_payload_sanitizations = (
            getattr(srv, "stat_dump_payload_sanitizations", 0) + ctx.sanitizations)
    deleted = db.delete(key) if replace else False
    if ttl and not absttl:
        ttl += int(time.time() * 1000)
    if ttl and ttl < srv.time_ms() and not srv.loading and not srv.is_replica:
        # checkAlreadyExpired: the key would expire at once
        if deleted:
            c.prop_override = [[b"DEL", key]]
            db.touch(key)
            if srv.notify_flags & NOTIFY_GENERIC:
                srv.notify(NOTIFY_GENERIC, b"del", key, db.id)
            srv.dirty += 1
        return OK
    db.add(key, obj)
    if ttl:
        db.set_expire(key, ttl)
        if not absttl:
            new = list(argv)
            new[2] = b"%d" % ttl
            new.append(b"ABSTTL")
            c.prop_override = [new]
    _set_lru_lfu(srv, db, key, lfu_freq, lru_idle)
    db.touch(key)
    if srv.notify_flags & NOTIFY_GENERIC:
        srv.notify(NOTIFY_GENERIC, b"restore", key, db.id)
    srv.dirty += 1
    return OK


def _set_lru_lfu(srv, db, key, lfu_freq, lru_idle):
    """objectSetLRUOrLFU."""
    word = restored_clock(srv, lfu_freq, lru_idle)
    if word is not None:
        db.lru[key] = word


# -- DEBUG RELOAD ---------------------------------------------------------------------------
def _debug_reload(c, argv):
    flush = save = True
    merge = False
    for opt in argv[2:]:
        o = opt.lower()
        if o == b"merge":
            merge = True
        elif o == b"noflush":
            flush = False
        elif o == b"nosave":
            save = False
        else:
            raise CommandError("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE "
                               "options.")
    srv = c.server
    if save and not save_now(srv):
        return ERR_REPLY
    if flush:
        for db in srv.dbs:         # emptyData, then rdbLoad into the live dataset: a load
            db.clear()             # that fails keeps the keys read before the error

    def reload():
        srv.rdb_allow_dup = merge      # RDBFLAGS_ALLOW_DUP: also for function libraries
        try:
            rdb.load(srv, rdb_path(srv), allow_dup=merge, flush=flush, keep_partial=True)
        except (OSError, rdb.RDBError) as e:
            srv.log("warning", "Error loading the RDB dump: %s" % e)
            return b"-ERR Error trying to load the RDB dump\r\n"
        finally:
            srv.rdb_allow_dup = False
        srv.log("warning", "DB reloaded by DEBUG RELOAD")
        return OK
    return loading.run_for_client(c, reload)     # other clients are served meanwhile


debug.subcommands[b"reload"] = _debug_reload


# -- FLUSHALL, SHUTDOWN ---------------------------------------------------------------------
def _on_flush(srv, dbid):
    """flushAllDataAndResetRDB: kill the RDB child, save when save points are set."""
    if dbid != -1:
        return
    kill_rdb_child(srv)
    if srv.config.values["save"]:
        save_now(srv)


def _on_shutdown(srv, save, force):
    """finishShutdown's persistence steps, in its order: kill the RDB child, the AOF
    part (kill the rewrite child, fsync), then save when save points are set (unless
    NOSAVE) or SAVE was given. Not None when the server can't exit."""
    if srv.child_type == "rdb":
        srv.log("warning", "There is a child saving an .rdb. Killing it!")
        kill_rdb_child(srv)
        remove_temp(srv.child_pid)   # (never reaped: the server exits)
    aof = getattr(srv, "aof", None)
    if aof is not None and aof.shutdown(force) is not None:
        return True
    if (srv.config.values["save"] and save is not False) or save is True:
        srv.log("notice", "Saving the final RDB snapshot before exiting.")
        if not save_now(srv):
            if not force:
                srv.log("warning", "Error trying to save the DB, can't exit.")
                return True
            srv.log("warning", "Error trying to save the DB. Exit anyway.")
    return None


# -- start-up -------------------------------------------------------------------------------
def startup_load(srv):
    """loadDataFromDisk (RDB part): load dir/dbfilename unless the AOF is on. A missing
    file is fine; an unreadable or corrupt one stops the server (exit status 1)."""
    if srv.config.values.get("appendonly"):
        return
    path = rdb_path(srv)
    start = time.monotonic()

    def load():
        res = rdb.load(srv, path)
        # what loadDataFromDisk does next comes before any client is served again
        srv.rdb_loaded_aux = res.aux
        srv.log("notice", "DB loaded from disk: %.3f seconds" % (time.monotonic() - start))
        restore = getattr(srv, "rdb_restore_info", None)
        if restore is not None:
            restore(res.aux)

    try:
        loading.run_at_startup(srv, load)
    except FileNotFoundError:
        return
    except OSError as e:
        srv.log("warning", "Fatal error loading the DB: %s. Exiting."
                % os.strerror(e.errno or errno.EIO))
        raise SystemExit(1)
    except rdb.RDBError as e:
        full = os.path.abspath(path)
        if isinstance(e, rdb.CorruptAccepted) or e.line:
            rdb.report_corrupt(srv, e, False)
        elif e.offset is not None:
            srv.log("warning", "Internal error in RDB reading offset %d, function at "
                    "rdb.c:0 -> %s" % (e.offset, e.msg))
        else:
            srv.log("warning", "Internal error in RDB reading -> %s" % e.msg)
        srv.log("warning", "Fatal error loading the DB from %s: %s. Exiting."
                % (full, e))
        srv.log("warning", "Terminating server after rdb file reading failure.")
        raise SystemExit(1)


# -- INFO -----------------------------------------------------------------------------------
def _info_persistence(srv, pairs):
    rdb_child = getattr(srv, "child_type", None) == "rdb"
    start = srv.rdb_save_time_start
    info.set_fields(pairs, {
        "loading": int(bool(srv.loading)),
        "rdb_changes_since_last_save": srv.dirty,
        "rdb_bgsave_in_progress": int(rdb_child),
        "rdb_last_save_time": srv.lastsave,
        "rdb_last_bgsave_status": "ok" if srv.lastbgsave_status else "err",
        "rdb_last_bgsave_time_sec": srv.rdb_save_time_last,
        "rdb_current_bgsave_time_sec": (int(time.time()) - start
                                        if rdb_child and start != -1 else -1),
        "rdb_saves": srv.stat_rdb_saves,
        "rdb_last_load_keys_expired": srv.rdb_last_load_keys_expired,
        "rdb_last_load_keys_loaded": srv.rdb_last_load_keys_loaded,
        "rdb_last_cow_size": srv.stat_rdb_cow_bytes,
    })
    if srv.child_type is not None:      # the child info of the child (childinfo.c)
        total = srv.stat_current_save_keys_total
        updated = srv.stat_current_cow_updated
        info.set_fields(pairs, {
            "current_cow_peak": srv.stat_current_cow_peak,
            "current_cow_size": srv.stat_current_cow_bytes,
            "current_cow_size_age": (rdb.child_age_s(updated) if updated else 0),
            "current_fork_perc": "%.2f" % (srv.stat_current_save_keys_processed * 100.0 / total
                                           if total else 0.0),
            "current_save_keys_processed": srv.stat_current_save_keys_processed,
            "current_save_keys_total": total,
        })
    pairs += loading.info_fields(srv)     # the last fields of the section
    return pairs


def _info_stats(srv, pairs):
    info.set_fields(pairs, {"total_forks": getattr(srv, "stat_total_forks", 0),
                            "latest_fork_usec": getattr(srv, "stat_fork_time", 0)})
    return pairs


def _resetstat(srv):
    srv.stat_rdb_saves = 0
    srv.stat_dump_payload_sanitizations = 0
    srv.stat_total_forks = 0
    srv.stat_fork_time = 0


def _server_init(srv):
    srv.stat_rdb_saves = 0
    srv.stat_dump_payload_sanitizations = 0
    srv.lastbgsave_status = True
    srv.lastbgsave_try = 0
    srv.rdb_save_time_start = -1
    srv.rdb_save_time_last = -1
    srv.dirty_before_bgsave = 0
    srv.rdb_bgsave_scheduled = False
    srv.rdb_last_load_keys_loaded = 0
    srv.rdb_last_load_keys_expired = 0
    srv.stat_rdb_cow_bytes = srv.stat_aof_cow_bytes = 0
    rdb.child_finished(srv)
    if not hasattr(srv, "child_type"):
        srv.child_type = None
        srv.child_pid = -1
    srv.cron_hooks.append(_cron)
    srv.shutdown_hooks.insert(0, _on_shutdown)


hooks.server_init.append(_server_init)
flush_hooks.append(_on_flush)
info.providers["persistence"].append(_info_persistence)
info.providers["stats"].append(_info_stats)
cli.startup_hooks.append(startup_load)
try:
    from . import config_cmd
    config_cmd.resetstat_hooks.append(_resetstat)
except (ImportError, AttributeError):
    pass
