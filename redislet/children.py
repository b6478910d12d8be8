"""Fork children as Redis runs them (server.c). Every fork goes through fork (redisFork:
the child is set up before anything else, setup_child); the parent reaps each child from
its cron without blocking, reading the exit status as checkChildrenDone does (poll,
exit_status), and the done handlers log the lines of backgroundSaveDoneHandlerDisk/Socket
and backgroundRewriteDoneHandler (log_done).

The children: BGSAVE (persistence/rdb.fork_save), the AOF rewrite (persistence/aof.py),
a full sync's RDB to disk or to the replicas' sockets (replication/master.py) and forked
Lua debugging sessions (scripting/ldb.py)."""
import gc
import os
import signal

SERVER_CHILD_NOERROR_RETVAL = 255    # the exit code of a child killed with SIGUSR1

# the done handlers' lines: success, error exit, killed by a signal
DONE_LINES = {
    "disk": ("Background saving terminated with success",
             "Background saving error",
             "Background saving terminated by signal %d"),
    "socket": ("Background RDB transfer terminated with success",
               "Background transfer error",
               "Background transfer terminated by signal %d"),
    "aof": ("Background AOF rewrite terminated with success",
            "Background AOF rewrite terminated with error",
            "Background AOF rewrite terminated by signal %d"),
}


def fork(srv):
    """redisFork: os.fork(), the child set up before anything else (setup_child). SIGUSR1
    is held meanwhile, so a child killed at once (killRDBChild) still gets its handler."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    try:
        pid = os.fork()
        if pid == 0:
            setup_child(srv)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
    return pid


def setup_child(srv):
    """The child side of redisFork: setupChildSignalHandlers (SIGUSR1 exits with
    SERVER_CHILD_NOERROR_RETVAL), SIGTERM/SIGINT keep sigShutdownHandler as a Redis
    child inherits it (it logs and sets a flag nothing reads; a second SIGINT exits),
    setOOMScoreAdj."""
    gc.disable()        # a collection would write to every tracked object: copy-on-write
    try:
        signal.set_wakeup_fd(-1)    # the parent's loop must not hear the child's signals
    except (ValueError, OSError):
        pass
    handlers = ((signal.SIGUSR1, lambda sig, frame: _sigusr1(srv)),
                (signal.SIGTERM, lambda sig, frame: srv.shutdown_signal(sig)),
                (signal.SIGINT, lambda sig, frame: srv.shutdown_signal(sig)),
                (signal.SIGABRT, signal.SIG_DFL))     # (the parent's went through the loop)
    for sig, handler in handlers:
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError):
            pass
    from .oom import in_fork_child
    in_fork_child(srv)


def _sigusr1(srv):
    """sigKillChildHandler: the parent reads this exit as killed by SIGUSR1, no error."""
    try:
        srv.log_from_handler("warning", "Received SIGUSR1 in child, exiting now.")
    finally:
        os._exit(SERVER_CHILD_NOERROR_RETVAL)


def kill(pid):
    """SIGUSR1 to a child (killRDBChild, killAppendOnlyChild): it exits without the parent
    flagging an error."""
    try:
        os.kill(pid, signal.SIGUSR1)
    except OSError:
        pass


def exit_status(status):
    """checkChildrenDone: (exitcode, bysignal) of a waitpid status; the exit of
    sigKillChildHandler counts as killed by SIGUSR1."""
    exitcode = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    bysignal = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    if exitcode == SERVER_CHILD_NOERROR_RETVAL:
        return 1, signal.SIGUSR1
    return exitcode, bysignal


def poll(pid):
    """waitpid(pid, WNOHANG): None while the child runs, else its exit_status (a child
    reaped elsewhere counts as an error exit)."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return 1, 0
    return None if done == 0 else exit_status(status)


def wait(pid):
    """waitpid(pid, 0): killAppendOnlyChild waits for the child it killed."""
    try:
        return exit_status(os.waitpid(pid, 0)[1])
    except ChildProcessError:
        return 1, 0


def log_done(srv, kind, exitcode, bysignal):
    """The done handler's line for a child of `kind` (DONE_LINES); True on success."""
    success, error, killed = DONE_LINES[kind]
    if not bysignal and exitcode == 0:
        srv.log("notice", success)
        return True
    srv.log("warning", killed % bysignal if bysignal else error)
    return False
