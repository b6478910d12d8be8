"""Loading a dataset as Redis does it (rdb.c startLoading / loadingAbsProgress /
loadingIncrProgress / stopLoading, networking.c processEventsWhileBlocked).

The state: `start(srv, total)` marks the server loading and resets the progress INFO
persistence reports (`info_fields`, genRedisInfoString's loading block); the loaders
advance `srv.loading_loaded_bytes` (the RDB parser every
loading-process-events-interval-bytes, the AOF replay every 1024 commands) and `stop(srv)`
ends it.

Serving meanwhile: a load runs in a greenlet and calls `srv.loading_yield()` at those same
points; the runners here hand the event loop back there, so other clients are served
(commands without the loading flag get -LOADING, `loading_check`) and the cron is reduced
to whileBlockedCron (`srv.load_blocking`). `run_at_startup` is loadDataFromDisk's (the
listeners start accepting at the first yield), `run_for_client` a command's (DEBUG
RELOAD / LOADAOF: the calling client waits for its reply like a blocked client). A
replica's sync load has its own runner (replication/replica.py start_loader), which also
waits for the bytes of a diskless transfer.
"""
import asyncio
import time

LOADING = "LOADING Redis is loading the dataset in memory"


# -- the state ----------------------------------------------------------------------------
def start(srv, total, async_=False):
    """startLoading: total is the file size or the transfer size (0 when unknown)."""
    if async_:
        srv.async_loading = True
    else:
        srv.loading = True
    srv.loading_start_time = int(time.time())
    srv.loading_loaded_bytes = 0
    srv.loading_total_bytes = total
    srv.loading_rdb_used_mem = 0
    srv.rdb_last_load_keys_expired = 0
    srv.rdb_last_load_keys_loaded = 0


def stop(srv):
    """stopLoading."""
    srv.loading = False
    srv.async_loading = False


def _cdiv(a, b):
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def info_fields(srv):
    """The loading_* fields of INFO persistence (none unless loading or async loading)."""
    if not (srv.loading or getattr(srv, "async_loading", False)):
        return []
    loaded = srv.loading_loaded_bytes
    total = srv.loading_total_bytes
    used_mem = srv.loading_rdb_used_mem
    perc = 0.0
    remaining = 1
    if total:
        perc = loaded / total * 100
        remaining = total - loaded
    elif used_mem:
        # used-mem is a (bad) estimate of the RDB size: never over 100%
        perc = min(loaded / used_mem * 100, 99.99)
        remaining = max(used_mem - loaded, 1)
    elapsed = int(time.time()) - srv.loading_start_time
    eta = 1 if elapsed == 0 else _cdiv(elapsed * remaining, loaded + 1)
    return [("loading_start_time", srv.loading_start_time),
            ("loading_total_bytes", total),
            ("loading_rdb_used_mem", used_mem),
            ("loading_loaded_bytes", loaded),
            ("loading_loaded_perc", "%.2f" % perc),
            ("loading_eta_seconds", eta)]


def loading_check(c, cmd, argv):
    """processCommand while loading: commands without the loading flag (or an EXEC of
    such commands) wait."""
    if not c.server.loading:
        return None
    if not cmd.loading:
        return LOADING
    if cmd.name == "exec" and c.multi:
        from ..commands.transactions import queued_flags
        if queued_flags(c)["deny_loading"]:
            return LOADING
    return None


# -- serving while loading ----------------------------------------------------------------
class _Loader:
    """fn() in a greenlet whose srv.loading_yield() hands the loop back: step() runs it up
    to its next yield (or its end: then finish() restores the server and returns True)."""

    def __init__(self, srv, fn):
        from greenlet import greenlet
        self.srv = srv
        self.g = greenlet(fn)
        self.result = self.error = None
        self.killed = False
        self.saved = {k: srv.__dict__.get(k)
                      for k in ("loading_yield", "load_blocking", "cron_paused")}
        srv.loading_yield = self.pause
        srv.load_blocking = True            # whileBlockedCron instead of serverCron
        srv.state_checks.append(loading_check)
        srv.update_checks()

    def pause(self):
        from greenlet import getcurrent
        if getcurrent() is self.g:
            self.g.parent.switch()

    def step(self):
        try:
            self.result = self.g.switch()
        except BaseException as e:  # noqa: BLE001 - handed to whoever waits for the load
            self.error = e
        if self.g.dead:
            self.finish()
            return True
        return False

    def finish(self):
        srv = self.srv
        for k, v in self.saved.items():
            if v is None:
                srv.__dict__.pop(k, None)
            else:
                setattr(srv, k, v)
        if loading_check in srv.state_checks:
            srv.state_checks.remove(loading_check)
        srv.update_checks()

    def drive(self, loop, finished):
        """A step on each loop pass until the load ends, then finished(). (A method
        rather than a closure that schedules itself: that closure would be a reference
        cycle, which the collector's policy never frees once frozen; gcpolicy.py.)"""
        if self.killed:
            return
        if self.step():
            finished()
        else:
            loop.call_soon(self.drive, loop, finished)

    def kill(self):
        """Unwind the greenlet (a shutdown during the load)."""
        self.killed = True
        if not self.g.dead:
            self.g.throw()
        self.finish()

    def outcome(self):
        if self.error is not None:
            raise self._take_error()
        return self.result

    def _take_error(self):
        # the error leaves this object, and no frame of its traceback names it: a
        # reference cycle otherwise, which gcpolicy.py never frees once frozen
        err, self.error = self.error, None
        return err


def run_at_startup(srv, fn):
    """loadDataFromDisk: run the load fn() serving clients at each yield (the listeners
    accept from the first one); returns fn's result or raises its exception. A shutdown
    signal meanwhile (whileBlockedCron's prepareForShutdown) exits with status 0."""
    loop = srv.loop
    if loop is None or loop.is_running():
        return fn()
    ld = _Loader(srv, fn)
    if ld.step():                       # done before its first yield: nobody waited
        return ld.outcome()
    done = loop.create_future()

    def finished():
        if not done.done():
            done.set_result(None)
    try:
        loop.run_until_complete(srv.begin_serving())
        loop.call_soon(ld.drive, loop, finished)
        loop.run_until_complete(asyncio.wait([done, srv.stopped],
                                             return_when=asyncio.FIRST_COMPLETED))
    except BaseException:
        ld.kill()
        raise
    if not done.done():                 # shut down while loading (SIGTERM): exit(0)
        done.cancel()
        ld.kill()
        raise SystemExit(0)
    return ld.outcome()


def run_for_client(c, fn):
    """A command's load (DEBUG RELOAD, DEBUG LOADAOF): fn() returns c's reply; other
    clients are served at each of its yields while c waits like a blocked client (Redis
    protects it meanwhile). Returns the reply when the load was done at once, else None
    (c gets it at the end). A call from EXEC or a script, or from a client without a
    connection, needs its reply now: the load serves nobody then."""
    from ..blocking import Blocked, update_stats_on_unblock, queue_resume
    if c.transport is None or c.in_exec or getattr(c, "in_script", False):
        return fn()
    srv = c.server
    ld = _Loader(srv, fn)
    srv.cron_paused = True      # no timers meanwhile (the cluster bus cron), as in Redis
    if ld.step():
        return ld.outcome()
    b = Blocked(c.db, [], None, None, c.last_cmd)
    c.blocked = b
    srv.blocked_clients += 1

    def finished():
        reply = ld.outcome()
        if c.blocked is b:
            c.blocked = None
            srv.blocked_clients -= 1
            failed = reply[:1] == b"-"
            if failed:
                srv.count_error(reply)
            update_stats_on_unblock(c, b, 0, failed)
            if not c.closed:
                if not c.reply_mode & 1:
                    c.out.append(reply)
                queue_resume(srv, c)
    srv.loop.call_soon(ld.drive, srv.loop, finished)
    return None
