"""Loading while serving, as Redis's rdbLoad with processEventsWhileBlocked: a replica's
diskless load parsed from the socket (swapdb keeps the old dataset, async loading serves
it, a broken link aborts the load), the start-up load (LOADING, CONFIG during loading,
SIGTERM), the master's diskless child killed or useless, replica clients that would get
a reply, BGSAVE child info, and the signal handlers (SIGINT twice, SIGABRT, watchdog)."""
import os
import signal
import time

import pytest
import redis

import conftest
from conftest import start_redislet, start_real_redis, Raw

FAST = ("--repl-diskless-sync-delay", "0")


def cli(s, timeout=10):
    return redis.Redis(port=s.port, decode_responses=False, socket_timeout=timeout)


def info(s, section):
    conn = Raw(s.port)
    try:
        text = conn.cmd("INFO", section)
    finally:
        conn.close()
    out = {}
    for line in text.decode().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def wait_for(cond, timeout=20, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if cond():
                return
        except (redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError):
            pass
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


LOADING = b"-LOADING Redis is loading the dataset in memory\r\n"


def raw(s, *args):
    conn = Raw(s.port)
    try:
        return conn.cmd(*args)
    finally:
        conn.close()


def log_text(s):
    with open(os.path.join(s.cwd, "server.log"), "rb") as f:
        return f.read().decode("utf-8", "replace")


def wait_log(s, pattern, timeout=20):
    wait_for(lambda: pattern in log_text(s), timeout, "log line %r" % pattern)


def big_master(tmp_path, real=False, keys=2000, size=10000, *args):
    d = tmp_path / ("master-real" if real else "master")
    d.mkdir()
    start = start_real_redis if real else start_redislet
    m = start(d, "--repl-diskless-sync", "yes", *FAST, *args)
    c = cli(m, 60)
    c.execute_command("DEBUG", "POPULATE", keys, "master", size)
    c.config_set("rdbcompression", "no")
    return m, c


# -- the replica's diskless load ---------------------------------------------------------------
@pytest.mark.parametrize("real_master", [False, True], ids=["redislet-master", "redis-master"])
def test_swapdb_load_is_served_and_an_aborted_one_keeps_the_old_dataset(tmp_path, real_master):
    m, mc = big_master(tmp_path, real_master)
    (tmp_path / "replica").mkdir()
    r = start_redislet(tmp_path / "replica", "--repl-diskless-load", "swapdb")
    rc = cli(r)
    try:
        rc.execute_command("DEBUG", "POPULATE", 200, "slave", 10)
        rc.set("mykey", "myvalue")
        rc.config_set("key-load-delay", 2000)      # 2000 keys: at least 4 s
        rc.config_set("loading-process-events-interval-bytes", 1024)
        rc.replicaof("127.0.0.1", m.port)
        # a different replication ID: loading (not async), commands get -LOADING
        wait_for(lambda: info(r, "persistence")["loading"] == "1", what="loading")
        assert info(r, "persistence")["async_loading"] == "0"
        assert raw(r, "GET", "mykey") == LOADING
        mc.config_set("repl-diskless-sync-delay", 5)
        mc.client_kill_filter(_type="replica")
        wait_for(lambda: info(r, "persistence")["loading"] == "0", what="load aborted")
        assert rc.get("mykey") == b"myvalue"
        assert rc.dbsize() == 201
        log = log_text(r)
        assert "MASTER <-> REPLICA sync: Loading DB in memory" in log
        assert "Failure loading rdb format from socket, assuming connection error" in log
        assert "MASTER <-> REPLICA sync: Discarding temporary DB in background" in log
        # the next sync succeeds: the new dataset replaces the old one
        rc.config_set("key-load-delay", 0)
        mc.config_set("repl-diskless-sync-delay", 0)
        wait_for(lambda: info(r, "replication")["master_link_status"] == "up", 60, "sync")
        assert rc.get("mykey") is None
        assert rc.dbsize() == 2000
        assert rc.execute_command("DEBUG", "DIGEST") == mc.execute_command("DEBUG", "DIGEST")
        assert "MASTER <-> REPLICA sync: Swapping active DB with loaded DB" in log_text(r)
    finally:
        r.stop()
        m.stop()


def test_async_loading_serves_the_old_dataset(tmp_path):
    m, mc = big_master(tmp_path, keys=10)
    (tmp_path / "replica").mkdir()
    r = start_redislet(tmp_path / "replica", "--repl-diskless-load", "swapdb",
                       "--replica-read-only", "no")
    rc = cli(r)
    try:
        rc.replicaof("127.0.0.1", m.port)
        wait_for(lambda: info(r, "replication")["master_link_status"] == "up", what="sync")
        mc.execute_command("DEBUG", "POPULATE", 2000, "master", 10000)
        rc.execute_command("DEBUG", "POPULATE", 200, "slave", 10)
        rc.set("mykey", "myvalue")
        mc.config_set("rdb-key-save-delay", 5000)
        mc.config_set("repl-backlog-size", 16384)
        p = mc.pipeline(transaction=True)
        p.client_kill_filter(_type="replica")
        for i in range(10):
            p.set("fill%d" % i, "A" * 16384)       # past the backlog: a full sync again
        p.execute()
        # the same replication ID: async loading, the old dataset stays readable
        wait_for(lambda: info(r, "persistence")["async_loading"] == "1", what="async")
        assert info(r, "persistence")["loading"] == "0"
        assert rc.get("mykey") == b"myvalue"
        assert rc.dbsize() == 211
        assert raw(r, "REPLICAOF", "no", "one") == LOADING     # no-async-loading
        mc.config_set("rdb-key-save-delay", 0)
        wait_for(lambda: info(r, "replication")["master_link_status"] == "up", 60, "sync")
        wait_for(lambda: rc.dbsize() == mc.dbsize(), what="same dbsize")
        assert rc.get("mykey") is None
    finally:
        r.stop()
        m.stop()


def test_diskless_on_empty_db_matches_the_master(tmp_path):
    m, mc = big_master(tmp_path, keys=3000, size=300)
    mc.rpush("list", *range(1000))
    mc.hset("hash", mapping={"f%d" % i: "v" * i for i in range(300)})
    mc.zadd("zset", {"m%d" % i: i / 3 for i in range(500)})
    mc.set("withttl", "x", ex=1000)
    (tmp_path / "replica").mkdir()
    r = start_redislet(tmp_path / "replica", "--repl-diskless-load", "on-empty-db")
    rc = cli(r)
    try:
        rc.replicaof("127.0.0.1", m.port)
        wait_for(lambda: info(r, "replication")["master_link_status"] == "up", 60, "sync")
        assert "receiving streamed RDB from master with EOF to parser" in log_text(r)
        wait_for(lambda: rc.dbsize() == mc.dbsize(), what="same dbsize")
        assert rc.execute_command("DEBUG", "DIGEST") == mc.execute_command("DEBUG", "DIGEST")
        assert 0 < rc.ttl("withttl") <= 1000
        # the stream after the RDB goes on
        mc.set("after", "sync")
        wait_for(lambda: rc.get("after") == b"sync", what="stream")
    finally:
        r.stop()
        m.stop()


def test_disk_load_of_a_real_master_with_load_delay(tmp_path):
    """A disk-based full sync loads in the background too (INFO answers meanwhile)."""
    m, mc = big_master(tmp_path, True, 500, 10000)
    mc.config_set("repl-diskless-sync", "no")
    (tmp_path / "replica").mkdir()
    r = start_redislet(tmp_path / "replica")
    rc = cli(r)
    try:
        rc.config_set("key-load-delay", 4000)
        rc.config_set("loading-process-events-interval-bytes", 1024)
        rc.replicaof("127.0.0.1", m.port)
        wait_for(lambda: info(r, "persistence")["loading"] == "1", what="loading")
        rc.config_set("key-load-delay", 0)
        wait_for(lambda: info(r, "replication")["master_link_status"] == "up", 60, "sync")
        assert rc.execute_command("DEBUG", "DIGEST") == mc.execute_command("DEBUG", "DIGEST")
    finally:
        r.stop()
        m.stop()


# -- the master's diskless child -------------------------------------------------------------
def _child_pid(s):
    out = os.popen("pgrep -P %d" % s.proc.pid).read().split()
    return int(out[0]) if out else None


def test_killed_diskless_child_is_collected(tmp_path):
    m, mc = big_master(tmp_path, keys=20000, size=10000)
    (tmp_path / "replica").mkdir()
    r = start_redislet(tmp_path / "replica", "--repl-diskless-load", "swapdb")
    rc = cli(r)
    try:
        rc.config_set("key-load-delay", 1000000)
        rc.config_set("loading-process-events-interval-bytes", 1024)
        rc.replicaof("127.0.0.1", m.port)
        wait_log(r, "MASTER <-> REPLICA sync: Loading DB in memory")
        time.sleep(0.5)                 # the replica reads slowly: the master waits on it
        pid = _child_pid(m)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: info(m, "persistence")["rdb_bgsave_in_progress"] == "0", 10,
                 "child collected")
        wait_log(m, "Background transfer terminated by signal 9")
        rc.config_set("key-load-delay", 0)
    finally:
        r.stop()
        m.stop()


def test_flushall_kills_the_replication_child(tmp_path):
    m, mc = big_master(tmp_path, keys=2000, size=100)
    mc.config_set("rdb-key-save-delay", 100000)
    (tmp_path / "replica").mkdir()
    r = start_redislet(tmp_path / "replica", "--repl-diskless-load", "swapdb")
    rc = cli(r)
    try:
        rc.replicaof("127.0.0.1", m.port)
        wait_log(r, "MASTER <-> REPLICA sync: Loading DB in memory")
        n = log_text(m).count("Background RDB transfer started by pid")
        mc.flushall()
        wait_for(lambda: log_text(m).count("Background RDB transfer started by pid") > n,
                 10, "a new child")
        assert "Background transfer terminated by signal 10" in log_text(m)
        assert mc.ping()
        mc.config_set("rdb-key-save-delay", 0)
        wait_for(lambda: info(r, "replication")["master_link_status"] == "up", 30, "sync")
        assert rc.dbsize() == 0
    finally:
        r.stop()
        m.stop()


def test_disk_child_nobody_waits_for_is_killed_without_save_points(tmp_path):
    (tmp_path / "m").mkdir()
    m = start_redislet(tmp_path / "m", "--repl-diskless-sync", "no")
    mc = cli(m)
    dirs = []
    for name in ("r1", "r2"):
        (tmp_path / name).mkdir()
        dirs.append(start_redislet(tmp_path / name))
    try:
        for i in range(10):
            mc.set(i, i)
        mc.config_set("rdb-key-save-delay", 1000000)
        for s in dirs:
            cli(s).replicaof("127.0.0.1", m.port)

        def both_waiting():
            i = info(m, "replication")
            return (info(m, "persistence")["rdb_bgsave_in_progress"] == "1"
                    and "wait_bgsave" in i.get("slave0", "")
                    and "wait_bgsave" in i.get("slave1", ""))
        wait_for(both_waiting, what="child for two replicas")
        cli(dirs[0]).replicaof("no", "one")
        time.sleep(0.3)
        assert info(m, "persistence")["rdb_bgsave_in_progress"] == "1"
        cli(dirs[1]).replicaof("no", "one")
        wait_for(lambda: info(m, "persistence")["rdb_bgsave_in_progress"] == "0", 5,
                 "child killed")
        # with save points the RDB is kept going
        mc.config_set("save", "900 1")
        for s in dirs:
            cli(s).replicaof("127.0.0.1", m.port)
        wait_for(both_waiting, what="child for two replicas")
        for s in dirs:
            cli(s).replicaof("no", "one")
        time.sleep(0.3)
        assert info(m, "persistence")["rdb_bgsave_in_progress"] == "1"
    finally:
        for s in dirs:
            s.stop()
        m.proc.kill()
        m.proc.wait()
        m.log.close()


# -- replica clients --------------------------------------------------------------------------
@pytest.mark.parametrize("impl", ["redislet", "redis"])
def test_replica_client_that_would_get_a_reply_is_disconnected(tmp_path, impl):
    start = start_redislet if impl == "redislet" else start_real_redis
    s = start(tmp_path)
    c = cli(s)
    try:
        raw = Raw(s.port)
        raw.send(b"SYNC\r\nPING\r\n")
        raw.read_until_closed(10)
        wait_log(s, "Replica generated a reply to command 'ping', disconnecting it: ")
        wait_for(lambda: info(s, "persistence")["rdb_bgsave_in_progress"] == "0",
                 what="child done")
        raw = Raw(s.port)
        assert raw.cmd("PSYNC", "replicationid", "-1").startswith(b"+FULLRESYNC ")
        raw.send(b"*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n")
        raw.read_until_closed(10)
        wait_log(s, "Replica generated a reply to command 'get', disconnecting it: ")
        wait_log(s, "== CRITICAL == This master is sending an error to its replica: "
                    "'Replica can't interact with the keyspace' after processing the "
                    "command 'get'")
        assert c.ping()
    finally:
        s.stop()


# -- start-up loading -------------------------------------------------------------------------
def test_startup_load_serves_clients(tmp_path, monkeypatch):
    args = ("--key-load-delay", "50", "--loading-process-events-interval-bytes", "1024",
            "--rdbcompression", "no", "--dbfilename", "big.rdb")
    s = start_redislet(tmp_path, *args)
    c = cli(s, 60)
    c.execute_command("DEBUG", "POPULATE", 100000, "key", 1000)
    c.save()
    s.stop()
    monkeypatch.setattr(conftest, "wait_ready", conftest.wait_up)
    s = start_redislet(tmp_path, *args)
    c = cli(s)
    try:
        assert info(s, "persistence")["loading"] == "1"
        assert raw(s, "GET", "key:1") == LOADING
        assert c.config_set("loglevel", "debug")
        assert c.config_get("loglevel") == {"loglevel": "debug"}
        assert raw(s, "CONFIG", "SET", "dir", "asdf") == LOADING
        clients = [Raw(s.port) for _ in range(5)]
        for conn in clients:
            assert conn.cmd("DEBUG", "LOG", "bla") == b"+OK\r\n"
        for conn in clients:
            conn.close()
        wait_for(lambda: int(info(s, "clients")["connected_clients"]) < 3, what="freed")
        assert info(s, "persistence")["loading"] == "1"
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(10) == 0
        log = log_text(s)
        assert "Received shutdown signal during loading, scheduling shutdown." in log
        assert "Saving the final RDB snapshot" not in log.split("Received shutdown")[1]
    finally:
        s.stop()


# -- BGSAVE child info ------------------------------------------------------------------------
def test_bgsave_child_reports_progress_and_cow(tmp_path):
    s = start_redislet(tmp_path)
    c = cli(s)
    try:
        p = c.pipeline(transaction=False)
        for k in range(10000):
            p.set("key%d" % k, "A" * 500)
        p.execute()
        i = info(s, "persistence")
        assert (i["current_cow_size"], i["current_save_keys_total"],
                i["rdb_last_cow_size"]) == ("0", "0", "0")
        c.config_set("rdb-key-save-delay", 200)
        c.bgsave()
        assert info(s, "persistence")["current_save_keys_total"] == "10000"
        seen = []

        def reported():
            i = info(s, "persistence")
            seen.append(i)
            return int(i["current_save_keys_processed"]) > 0

        wait_for(reported, 10, "a child report")
        i = seen[-1]
        assert int(i["current_cow_size"]) > 0
        assert float(i["current_fork_perc"]) == pytest.approx(
            int(i["current_save_keys_processed"]) / 100.0, abs=0.01)
        assert int(i["current_cow_peak"]) >= int(i["current_cow_size"])
        wait_for(lambda: info(s, "persistence")["rdb_bgsave_in_progress"] == "0", 30)
        i = info(s, "persistence")
        assert int(i["rdb_last_cow_size"]) > 0
        assert i["current_save_keys_total"] == "0"
        assert "Fork CoW for RDB: current " in log_text(s)
    finally:
        s.stop()


# -- signals ----------------------------------------------------------------------------------
def test_second_sigint_during_shutdown_save_removes_the_temp_rdb(tmp_path):
    s = start_redislet(tmp_path, "--save", "900 1")
    c = cli(s)
    for i in range(20):
        c.set(i, i)
    c.config_set("rdb-key-save-delay", 100000)
    pid = s.proc.pid
    temp = os.path.join(s.cwd, "temp-%d.rdb" % pid)
    s.proc.send_signal(signal.SIGINT)
    wait_for(lambda: os.path.exists(temp), 5, "the temp rdb")
    s.proc.send_signal(signal.SIGINT)
    assert s.proc.wait(5) == 1
    assert not os.path.exists(temp)
    assert "You insist... exiting now." in log_text(s)
    s.stop()


def test_sigterm_after_a_save_still_shuts_down(tmp_path):
    s = start_redislet(tmp_path, "--save", "900 1")
    c = cli(s)
    c.set("a", "b")
    assert c.save()
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(10) == 0
    assert "Redis is now ready to exit, bye bye..." in log_text(s)
    s.stop()


def test_sigabrt_logs_a_crash_report(tmp_path):
    s = start_redislet(tmp_path, "--crash-memcheck-enabled", "no")
    s.proc.send_signal(signal.SIGABRT)
    assert s.proc.wait(10) == -signal.SIGABRT
    log = log_text(s)
    assert "=== REDIS BUG REPORT START: Cut & paste starting from here ===" in log
    assert "Redis 7.0.15 crashed by signal: 6" in log
    assert "------ STACK TRACE ------" in log
    assert "=== REDIS BUG REPORT END. Make sure to include from START to END. ===" in log
    s.stop()


def test_watchdog_logs_a_blocked_server(tmp_path):
    s = start_redislet(tmp_path)
    c = cli(s)
    try:
        c.config_set("watchdog-period", 200)
        c.execute_command("DEBUG", "SLEEP", 1)
        wait_log(s, "--- WATCHDOG TIMER EXPIRED ---", 5)
        assert "debug" in log_text(s).split("WATCHDOG TIMER EXPIRED")[1]
        c.config_set("watchdog-period", 0)
        n = log_text(s).count("WATCHDOG TIMER EXPIRED")
        c.execute_command("DEBUG", "SLEEP", 0.5)
        time.sleep(0.3)
        assert log_text(s).count("WATCHDOG TIMER EXPIRED") == n
    finally:
        s.stop()


@pytest.mark.parametrize("kind", ["redislet", "redis"])
def test_flushall_kills_bgsave_child_with_redis_log_lines(tmp_path, kind):
    """killRDBChild: the child logs sigKillChildHandler's line and exits; the parent logs
    'terminated by signal 10' and keeps rdb_last_bgsave_status ok (SIGUSR1 is no error)."""
    start = start_redislet if kind == "redislet" else start_real_redis
    s = start(tmp_path)
    try:
        c = cli(s)
        c.execute_command("DEBUG", "POPULATE", "10000")
        c.config_set("rdb-key-save-delay", 1000)        # 10 s of saving: still running
        assert c.bgsave() is True
        wait_for(lambda: info(s, "persistence")["rdb_bgsave_in_progress"] == "1")
        assert c.flushall() is True
        wait_log(s, "Background saving terminated by signal 10")
        text = log_text(s)
        assert "signal-handler (" in text and \
            "Received SIGUSR1 in child, exiting now." in text
        assert text.index("Received SIGUSR1 in child") < \
            text.index("Background saving terminated by signal 10")
        p = info(s, "persistence")
        assert p["rdb_bgsave_in_progress"] == "0" and p["rdb_last_bgsave_status"] == "ok"
    finally:
        s.stop()


@pytest.mark.parametrize("kind", ["redislet", "redis"])
def test_master_stream_skips_the_bit_offset_limit(tmp_path, kind):
    """mustObeyClient: a SETBIT from the master applies on a replica whose own
    proto-max-bulk-len would refuse that offset (a plain client gets the error)."""
    start = start_redislet if kind == "redislet" else start_real_redis
    (tmp_path / "m").mkdir()
    (tmp_path / "r").mkdir()
    m = start(tmp_path / "m")
    r = start(tmp_path / "r", "--proto-max-bulk-len", "1mb")
    try:
        mc, rc = cli(m), cli(r)
        offset = 8 * (1 << 20) + 7          # byte 1 MiB: past the replica's limit
        assert raw(r, "SETBIT", "own", str(offset), "1") == \
            b"-ERR bit offset is not an integer or out of range\r\n"
        rc.replicaof("127.0.0.1", m.port)
        wait_for(lambda: info(r, "replication")["master_link_status"] == "up", 30, "sync")
        mc.setbit("big", offset, 1)
        mc.set("after", "1")
        wait_for(lambda: rc.get("after") == b"1", what="the stream")
        assert rc.strlen("big") == (1 << 20) + 1
        assert rc.getrange("big", 1 << 20, 1 << 20) == b"\x01"
    finally:
        r.stop()
        m.stop()
