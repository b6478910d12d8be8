"""Fork children as Redis handles them (server.c setupChildSignalHandlers, checkChildrenDone,
killRDBChild / killAppendOnlyChild, finishShutdown, sigShutdownHandler with
shutdown-on-sigint / shutdown-on-sigterm): each test runs against redislet and against
redis-server (skipped when absent) and checks the same log lines and state. Children are
kept alive with rdb-key-save-delay over a few keys, not with big datasets."""
import glob
import os
import signal
import subprocess
import time

import pytest
import redis

from conftest import start_redislet, start_real_redis
from test_replication_load import cli, info, log_text, raw, wait_for, wait_log

KINDS = ["redislet", "redis"]


def start(kind, tmp_path, *args):
    return (start_redislet if kind == "redislet" else start_real_redis)(tmp_path, *args)


def slow_child_server(kind, tmp_path, *args):
    """A server whose fork children take ~10 s (1000 keys, 10 ms each)."""
    s = start(kind, tmp_path, *args)
    c = cli(s)
    c.execute_command("DEBUG", "POPULATE", "1000")
    c.config_set("rdb-key-save-delay", 10000)
    return s, c


def child_pid(s):
    """The server's one fork child (redis-server names none; pgrep -P finds it)."""
    out = subprocess.run(["pgrep", "-P", str(s.proc.pid)], capture_output=True,
                         text=True).stdout.split()
    assert len(out) == 1, out
    return int(out[0])


def exited(s, timeout=20):
    s.proc.wait(timeout)
    return s.proc.returncode


def handler_line(pid, msg):
    """serverLogFromHandler's line, without its time."""
    return "%d:signal-handler (" % pid, ") " + msg


def has_handler_line(text, pid, msg):
    head, tail = handler_line(pid, msg)
    return any(line.startswith(head) and line.endswith(tail) for line in text.splitlines())


def temp_rdbs(s):
    return glob.glob(os.path.join(s.cwd, "temp-*.rdb"))


def wait_child_line(s, kind, pid):
    """The SIGUSR1 line of a child killed by a shutdown. redis-server's child does not
    always get to log it when the machine is loaded (2 of 12 runs beside two busy loops,
    the parent already gone): only redislet's is required."""
    if kind == "redislet":
        wait_for(lambda: has_handler_line(log_text(s), pid,
                                          "Received SIGUSR1 in child, exiting now."))


def start_bgsave(c, s):
    assert c.bgsave() is True
    wait_for(lambda: info(s, "persistence")["rdb_bgsave_in_progress"] == "1")
    wait_for(lambda: temp_rdbs(s), what="the child's temp file")
    return child_pid(s)


@pytest.mark.parametrize("kind", KINDS)
def test_sigterm_to_a_child_is_logged_and_a_second_sigint_exits(tmp_path, kind):
    """A child keeps the parent's sigShutdownHandler: SIGTERM only logs (the save goes on);
    SIGINT twice exits 1 ('You insist'), removing the child's temp file; the parent reaps
    an error exit ('Background saving error', status err)."""
    s, c = slow_child_server(kind, tmp_path)
    try:
        pid = start_bgsave(c, s)
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: has_handler_line(log_text(s), pid,
                                          "Received SIGTERM scheduling shutdown..."))
        time.sleep(0.3)
        assert info(s, "persistence")["rdb_bgsave_in_progress"] == "1"
        os.kill(pid, signal.SIGINT)
        wait_for(lambda: has_handler_line(log_text(s), pid, "You insist... exiting now."))
        wait_log(s, "# Background saving error")
        p = info(s, "persistence")
        assert p["rdb_bgsave_in_progress"] == "0" and p["rdb_last_bgsave_status"] == "err"
        assert not temp_rdbs(s)
    finally:
        s.stop()


# a child's command, its INFO persistence fields (in progress, last status), its done line
CHILDREN = {
    "bgsave": ("BGSAVE", "rdb_bgsave_in_progress", "rdb_last_bgsave_status",
               "Background saving terminated by signal %d"),
    "aofrw": ("BGREWRITEAOF", "aof_rewrite_in_progress", "aof_last_bgrewrite_status",
              "Background AOF rewrite terminated by signal %d"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("child", sorted(CHILDREN))
@pytest.mark.parametrize("sig", [signal.SIGUSR1, signal.SIGKILL])
def test_child_killed_by_a_signal(tmp_path, kind, child, sig):
    """checkChildrenDone: SIGUSR1 (the child's handler exits 255) is 'terminated by signal
    10' without an error; another signal is an error (backgroundSaveDoneHandlerDisk,
    backgroundRewriteDoneHandler). A BGSAVE's temp file goes either way."""
    cmd, running, status, line = CHILDREN[child]
    s, c = slow_child_server(kind, tmp_path)
    try:
        c.execute_command(cmd)
        wait_for(lambda: info(s, "persistence")[running] == "1")
        wait_for(lambda: child == "aofrw" or temp_rdbs(s), what="the child's temp file")
        pid = child_pid(s)
        os.kill(pid, sig)
        wait_log(s, "# " + line % sig)
        assert has_handler_line(log_text(s), pid, "Received SIGUSR1 in child, exiting now.") \
            == (sig == signal.SIGUSR1)
        p = info(s, "persistence")
        assert p[running] == "0"
        assert p[status] == ("ok" if sig == signal.SIGUSR1 else "err")
        assert not temp_rdbs(s)
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_shutdown_kills_the_bgsave_child(tmp_path, kind):
    """finishShutdown: 'There is a child saving an .rdb. Killing it!', the child's temp file
    removed, no reaping (the parent exits); the child logs its SIGUSR1 line."""
    s, c = slow_child_server(kind, tmp_path)
    try:
        pid = start_bgsave(c, s)
        c.shutdown(nosave=True)         # (redis-py: the closed connection is the answer)
        assert exited(s) == 0
        wait_child_line(s, kind, pid)
        text = log_text(s)
        i = text.index("# User requested shutdown...")
        j = text.index("# There is a child saving an .rdb. Killing it!", i)
        assert text.index("is now ready to exit, bye bye...", j)
        assert "Background saving terminated" not in text
        assert not temp_rdbs(s)
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_shutdown_kills_the_aof_rewrite_child(tmp_path, kind):
    """finishShutdown: 'There is a child rewriting the AOF. Killing it!', then
    killAppendOnlyChild's line (it waits for the child), then the AOF fsync."""
    s, c = slow_child_server(kind, tmp_path, "--appendonly", "yes")
    try:
        wait_for(lambda: info(s, "persistence")["aof_rewrite_in_progress"] == "0")
        c.bgrewriteaof()
        wait_for(lambda: info(s, "persistence")["aof_rewrite_in_progress"] == "1")
        time.sleep(0.2)
        pid = child_pid(s)
        c.shutdown(nosave=True)         # (redis-py: the closed connection is the answer)
        assert exited(s) == 0
        text = log_text(s)
        i = text.index("# There is a child rewriting the AOF. Killing it!")
        j = text.index("* Killing running AOF rewrite child: %d" % pid, i)
        assert text.index("* Calling fsync() on the AOF file.", j)
        assert has_handler_line(text, pid, "Received SIGUSR1 in child, exiting now.")
        assert "Background AOF rewrite terminated" not in text
        assert not glob.glob(os.path.join(s.cwd, "temp-rewriteaof-*"))
    finally:
        s.stop()


SIG_FLAGS = [("shutdown-on-sigterm", signal.SIGTERM), ("shutdown-on-sigint", signal.SIGINT)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name,sig", SIG_FLAGS)
@pytest.mark.parametrize("flag,save_points,saved", [("nosave", "3600 1", False),
                                                    ("save", "", True)])
def test_shutdown_on_signal_nosave_and_save(tmp_path, kind, name, sig, flag, save_points,
                                            saved):
    """shutdown-on-sigterm / shutdown-on-sigint apply to the signal's shutdown: nosave
    skips the save of the save points; save saves without any."""
    s = start(kind, tmp_path, "--save", save_points)
    try:
        c = cli(s)
        c.set("k", "v")
        c.config_set(name, flag)
        s.proc.send_signal(sig)
        assert exited(s) == 0
        assert ("* Saving the final RDB snapshot before exiting." in log_text(s)) == saved
        assert os.path.exists(os.path.join(s.cwd, "dump.rdb")) == saved
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_signal_shutdown_that_cannot_save_keeps_running_unless_force(tmp_path, kind):
    """finishShutdown's error: 'Error trying to save the DB, can't exit.' then 'Errors trying
    to shut down the server...', and the server goes on; a second SIGTERM shuts down again;
    with shutdown-on-sigterm force it exits anyway ('Exit anyway.')."""
    gone = tmp_path / "gone"
    gone.mkdir()
    s = start(kind, tmp_path, "--save", "3600 1", "--dir", str(gone))
    try:
        c = cli(s)
        c.set("k", "v")
        gone.rmdir()                    # the final save cannot create its temp file
        s.proc.send_signal(signal.SIGTERM)
        wait_log(s, "# Errors trying to shut down the server. Check the logs for more "
                    "information.")
        text = log_text(s)
        assert text.index("# Error trying to save the DB, can't exit.") < \
            text.index("# Errors trying to shut down the server.")
        assert text.count("Errors trying to shut down the server") == 1
        assert c.ping() is True
        c.config_set("shutdown-on-sigterm", "force")
        s.proc.send_signal(signal.SIGTERM)
        assert exited(s) == 0
        assert "# Error trying to save the DB. Exit anyway." in log_text(s)
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_shutdown_on_sig_config_values(tmp_path, kind):
    """CONFIG SET/GET of the flag enums: names in the enum's order, SAVE with NOSAVE
    refused."""
    s = start(kind, tmp_path)
    try:
        c = cli(s)
        c.config_set("shutdown-on-sigint", "force now save")
        assert c.config_get("shutdown-on-sigint") == {"shutdown-on-sigint": "save now force"}
        with pytest.raises(redis.ResponseError) as e:
            c.config_set("shutdown-on-sigterm", "save nosave")
        assert "shutdown options SAVE and NOSAVE can't be used simultaneously" in str(e.value)
        c.config_set("shutdown-on-sigint", "default")
        assert c.config_get("shutdown-on-sigint") == {"shutdown-on-sigint": "default"}
    finally:
        s.stop()


def fake_replica(s):
    """A replica that syncs and never acknowledges anything (REPLCONF ACK)."""
    from conftest import Raw
    r = Raw(s.port)
    assert r.cmd("REPLCONF", "listening-port", "1") == b"+OK\r\n"
    r.send(b"PSYNC ? -1\r\n")
    return r


@pytest.mark.parametrize("kind", KINDS)
def test_shutdown_kills_a_full_sync_child(tmp_path, kind):
    """A full sync's RDB child is an RDB child to finishShutdown too."""
    s, c = slow_child_server(kind, tmp_path, "--repl-diskless-sync", "no")
    try:
        r = fake_replica(s)
        wait_log(s, "Starting BGSAVE for SYNC with target: disk")
        # the child is writing: its SIGUSR1 handler is set (redis-server's child is
        # unprotected for a moment after the fork; a signal then kills it silently)
        wait_for(lambda: temp_rdbs(s), what="the child's temp file")
        pid = child_pid(s)
        c.shutdown(nosave=True, now=True)
        assert exited(s) == 0
        wait_child_line(s, kind, pid)
        text = log_text(s)
        assert text.index("# There is a child saving an .rdb. Killing it!") < \
            text.index("is now ready to exit, bye bye...")
        r.close()
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_second_sigint_while_waiting_for_replicas_exits(tmp_path, kind):
    """A signal's shutdown waiting for a lagging replica is still 'shutdown_asap': a
    second SIGINT exits at once (status 1)."""
    s = start(kind, tmp_path, "--repl-diskless-sync", "no")
    try:
        c = cli(s)
        r = fake_replica(s)
        wait_for(lambda: info(s, "replication").get("slave0", "").find("state=online") > 0,
                 what="the fake replica online")
        c.set("k", "v")
        s.proc.send_signal(signal.SIGINT)
        wait_log(s, "Waiting for replicas before shutting down.")
        s.proc.send_signal(signal.SIGINT)
        assert exited(s) == 1
        assert has_handler_line(log_text(s), s.proc.pid, "You insist... exiting now.")
        r.close()
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_bgsave_child_that_cannot_save(tmp_path, kind):
    """rdbSave's line from the child (role C), then backgroundSaveDoneHandlerDisk's error."""
    gone = tmp_path / "gone"
    gone.mkdir()
    s = start(kind, tmp_path, "--dir", str(gone))
    try:
        c = cli(s)
        gone.rmdir()                    # the child cannot create its temp file
        assert c.bgsave() is True
        wait_log(s, "# Background saving error")
        text = log_text(s)
        pid = int(text.split("Background saving started by pid ")[1].split()[0])
        assert ("%d:C " % pid) in text and ("# Failed opening the temp RDB file temp-%d.rdb "
                                            "(in server root dir unknown) for saving: No such "
                                            "file or directory" % pid) in text
        assert info(s, "persistence")["rdb_last_bgsave_status"] == "err"
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_aof_rewrite_child_info(tmp_path, kind, preamble):
    """The rewrite child reports through the child info pipe as a BGSAVE child does: the
    keys to save in INFO while it runs, its 'Fork CoW for AOF rewrite' line (role C)."""
    s = start(kind, tmp_path, "--aof-use-rdb-preamble", preamble)
    try:
        c = cli(s)
        c.execute_command("DEBUG", "POPULATE", "1000")
        c.config_set("rdb-key-save-delay", 1000)       # a child of ~1 s
        c.bgrewriteaof()
        wait_for(lambda: info(s, "persistence")["aof_rewrite_in_progress"] == "1")
        assert info(s, "persistence")["current_save_keys_total"] == "1000"
        wait_for(lambda: info(s, "persistence")["aof_rewrite_in_progress"] == "0")
        wait_log(s, "Background AOF rewrite finished successfully")
        text = log_text(s)
        assert [line for line in text.splitlines()
                if ":C " in line and "* Fork CoW for AOF rewrite: current " in line]
        p = info(s, "persistence")
        assert "aof_last_cow_size" in p and p["current_save_keys_total"] == "0"
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_a_full_sync_child_is_the_rdb_child(tmp_path, kind):
    """hasActiveChildProcess: while a full sync's child runs, BGSAVE is refused (it is an
    RDB child), BGREWRITEAOF is scheduled, and FLUSHALL kills it (killRDBChild)."""
    s, c = slow_child_server(kind, tmp_path, "--repl-diskless-sync", "no")
    try:
        r = fake_replica(s)
        wait_log(s, "Starting BGSAVE for SYNC with target: disk")
        assert info(s, "persistence")["rdb_bgsave_in_progress"] == "1"
        with pytest.raises(redis.ResponseError, match="Background save already in progress"):
            c.bgsave()
        assert raw(s, "BGREWRITEAOF") == b"+Background append only file rewriting scheduled\r\n"
        c.flushall()
        wait_log(s, "# Background saving terminated by signal 10")
        wait_log(s, "Background append only file rewriting started by pid")
        r.close()
    finally:
        s.stop()


def test_embedded_server_reaps_the_child_shutdown_kills(tmp_path):
    """A standalone server exits after SHUTDOWN kills its saving child (init reaps it);
    an embedded one lives in a process that goes on, so it reaps the child itself."""
    import redislet
    with redislet.Server(dir=str(tmp_path), rdb_key_save_delay="100000") as srv:
        r = redis.Redis(port=srv.port)
        for i in range(20):
            r.set("k%d" % i, i)
        r.bgsave()
        pid = srv.server.child_pid
        assert pid > 0
        r.shutdown(nosave=True)
        srv._thread.join(10)
    with pytest.raises(ChildProcessError):      # reaped: no zombie left
        os.waitpid(pid, os.WNOHANG)
