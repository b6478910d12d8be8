"""Replication: redislet and real Redis 7.0 as masters and replicas of each other, full
and partial resynchronization, chained replicas, promotion (psync2), WAIT, ROLE, INFO
replication, the replica-side command checks, and SYNC streams."""
import socket
import threading
import time

import pytest
import redis

from conftest import start_redislet, start_real_redis, Raw, encode_command

FAST = ("--repl-diskless-sync-delay", "0")


# -- helpers ------------------------------------------------------------------------------
def cli(s):
    return redis.Redis(port=s.port, decode_responses=False, socket_timeout=10)


def info(c, section="replication"):
    conn = Raw(c.connection_pool.connection_kwargs["port"])
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


def wait_for(cond, timeout=15, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if cond():
                return
        except (redis.ConnectionError, redis.TimeoutError):
            pass
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def wait_synced(master, *replicas, timeout=20):
    """Every replica is connected and has processed the master's whole stream."""
    def ok():
        mo = int(info(master)["master_repl_offset"])
        for r in replicas:
            i = info(r)
            if i.get("master_link_status") != "up" or int(i["slave_repl_offset"]) < mo:
                return False
        return mo == int(info(master)["master_repl_offset"])
    wait_for(ok, timeout, "replicas in sync")


def populate(c, n=60, prefix="k"):
    """Every type and encoding, expiries, several dbs."""
    p = c.pipeline(transaction=False)
    for db in (0, 3):
        p.execute_command("SELECT", db)
        for i in range(n):
            p.set("%s:str:%d" % (prefix, i), "v%d" % i)
        p.set(prefix + ":int", 12345)
        p.set(prefix + ":big", "x" * 20000)
        p.set(prefix + ":ttl", "t", ex=1000)
        p.rpush(prefix + ":list:small", *["a", "b", 1, 2])
        p.rpush(prefix + ":list:big", *["e%d" % i for i in range(300)])
        p.hset(prefix + ":hash:small", mapping={"f1": "v1", "f2": 2})
        p.hset(prefix + ":hash:big", mapping={"f%d" % i: "v" * (i % 80) for i in range(200)})
        p.sadd(prefix + ":set:int", *range(20))
        p.sadd(prefix + ":set:big", *["m%d" % i for i in range(200)])
        p.zadd(prefix + ":zset:small", {"a": 1, "b": 2.5, "c": -3})
        p.zadd(prefix + ":zset:big", {"m%d" % i: i / 7 for i in range(200)})
        p.pexpire(prefix + ":zset:big", 900000)
        for i in range(30):
            p.xadd(prefix + ":stream", {"f": i}, id="%d-1" % (i + 1))
        p.xgroup_create(prefix + ":stream", "g1", id="0")
    p.execute_command("SELECT", 0)
    p.execute()
    c.xreadgroup("g1", "consumer1", {prefix + ":stream": ">"}, count=5)


def snapshot(c, dbs=(0, 1, 2, 3)):
    """The dataset, read with type-specific commands (DUMP-free)."""
    out = {}
    for db in dbs:
        c.execute_command("SELECT", db)
        for key in c.scan_iter(count=1000):
            t = c.type(key)
            if t == b"string":
                v = c.get(key)
            elif t == b"list":
                v = c.lrange(key, 0, -1)
            elif t == b"hash":
                v = sorted(c.hgetall(key).items())
            elif t == b"set":
                v = sorted(c.smembers(key))
            elif t == b"zset":
                v = c.zrange(key, 0, -1, withscores=True)
            elif t == b"stream":
                v = (c.xrange(key), [(g["name"], g["pending"], g["last-delivered-id"])
                                     for g in c.xinfo_groups(key)])
            else:
                v = None
            out[(db, key)] = (t, v, c.pttl(key) > 0)
    c.execute_command("SELECT", 0)
    return out


def write_load(c, rounds=200, prefix="w"):
    """Writes of every kind, with SELECT, MULTI/EXEC and expiries."""
    for i in range(rounds):
        p = c.pipeline(transaction=(i % 10 == 0))
        p.set("%s:s:%d" % (prefix, i % 50), i)
        p.incr(prefix + ":counter")
        p.lpush(prefix + ":l", i)
        p.ltrim(prefix + ":l", 0, 99)
        p.hincrby(prefix + ":h", "f%d" % (i % 7), 1)
        p.sadd(prefix + ":s", i % 33)
        p.zincrby(prefix + ":z", 1.5, "m%d" % (i % 9))
        p.xadd(prefix + ":x", {"i": i}, maxlen=50, approximate=False)
        if i % 5 == 0:
            p.set(prefix + ":short:%d" % i, 1, px=30)
            p.delete("%s:s:%d" % (prefix, (i + 25) % 50))
        p.execute()
        if i % 20 == 0:
            c.execute_command("SELECT", 2)
            c.set(prefix + ":db2:%d" % i, i)
            c.execute_command("SELECT", 0)


def settle_expired(*clients):
    """Let the short TTLs pass and the master expire them (its DELs replicate)."""
    time.sleep(0.1)
    for c in clients:
        for db in (0, 2):
            c.execute_command("SELECT", db)
            for k in c.scan_iter(match="*short*"):
                c.exists(k)
        c.execute_command("SELECT", 0)


@pytest.fixture
def servers(tmp_path):
    started = []

    def make(kind, *args):
        d = tmp_path / ("s%d" % len(started))
        d.mkdir()
        s = (start_real_redis if kind == "redis" else start_redislet)(d, *args)
        started.append(s)
        return s
    yield make
    for s in reversed(started):
        s.stop()


# -- redislet replica of a real Redis master ------------------------------------------------
def test_redislet_replica_of_real_redis(servers):
    m = servers("redis", *FAST)
    mc = cli(m)
    populate(mc)
    r = servers("redislet", "--replicaof", "127.0.0.1", str(m.port))
    rc = cli(r)
    wait_synced(mc, rc)
    assert snapshot(rc) == snapshot(mc)
    write_load(mc)
    settle_expired(mc)
    mc.set("last", 1)
    assert mc.wait(1, 5000) == 1
    wait_synced(mc, rc)
    assert snapshot(rc) == snapshot(mc)
    role = rc.execute_command("ROLE")
    assert role[:4] == [b"slave", b"127.0.0.1", m.port, b"connected"]
    assert role[4] == int(info(mc)["master_repl_offset"])
    mrole = mc.execute_command("ROLE")
    assert mrole[0] == b"master" and mrole[2][0][1] == str(r.port).encode()
    i = info(rc)
    assert i["master_replid"] == info(mc)["master_replid"]
    assert i["master_link_status"] == "up" and i["slave_read_only"] == "1"


# -- a real Redis replica of a redislet master ----------------------------------------------
@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_real_redis_replica_of_redislet(servers, diskless):
    m = servers("redislet", *FAST, "--repl-diskless-sync", diskless)
    mc = cli(m)
    populate(mc)
    r = servers("redis", "--replicaof", "127.0.0.1", str(m.port))
    rc = cli(r)
    wait_synced(mc, rc)
    assert snapshot(rc) == snapshot(mc)
    write_load(mc)
    settle_expired(mc)
    mc.set("last", 1)
    assert mc.wait(1, 5000) == 1
    wait_synced(mc, rc)
    assert snapshot(rc) == snapshot(mc)
    assert info(mc, "stats")["sync_full"] == "1"
    i = info(mc)
    assert i["connected_slaves"] == "1"
    assert i["slave0"].startswith("ip=127.0.0.1,port=%d,state=online," % r.port)
    assert i["repl_backlog_active"] == "1"


def test_writes_during_full_sync_reach_the_replica(servers):
    """Writes made while the RDB is produced and sent are buffered for the replica."""
    m = servers("redislet", *FAST, "--repl-diskless-sync", "no")
    mc = cli(m)
    p = mc.pipeline(transaction=False)
    for i in range(20000):
        p.set("pre:%d" % i, "x" * 50)
    p.execute()
    r = servers("redislet")
    rc = cli(r)
    rc.replicaof("127.0.0.1", m.port)
    for i in range(300):
        mc.set("during:%d" % i, i)
    wait_synced(mc, rc)
    assert rc.dbsize() == mc.dbsize() == 20300
    assert rc.get("during:299") == b"299"


@pytest.mark.parametrize("master_kind", ["redislet", "redis"])
def test_disk_sync_is_a_bgsave_of_the_dump_file(servers, tmp_path, master_kind):
    """With repl-diskless-sync no, a full sync BGSAVEs to the master's dump file, as Redis
    does: the file stays and the save counters move (no persistence configured); with
    rdb-del-sync-files the file of a later sync goes once the replica has it."""
    m = servers(master_kind, *FAST, "--repl-diskless-sync", "no")
    mc = cli(m)
    mc.set("a", 1)
    mc.set("b", 2)
    before = info(mc, "persistence")
    assert before["rdb_changes_since_last_save"] == "2"
    dump = tmp_path / "s0" / "dump.rdb"
    assert not dump.exists()
    r = servers("redislet", "--replicaof", "127.0.0.1", str(m.port))
    wait_synced(mc, cli(r))
    wait_for(lambda: info(mc, "persistence")["rdb_bgsave_in_progress"] == "0", 10,
             "the save child done")
    after = info(mc, "persistence")
    assert after["rdb_changes_since_last_save"] == "0"
    assert after["rdb_last_bgsave_status"] == "ok"
    assert int(after["rdb_saves"]) == int(before["rdb_saves"]) + 1
    assert int(after["rdb_last_save_time"]) >= int(before["rdb_last_save_time"])
    assert dump.exists()
    log = (tmp_path / "s0" / "server.log").read_text()
    assert "Background saving started by pid" in log and "DB saved on disk" in log
    assert "Background saving terminated with success" in log
    mc.config_set("rdb-del-sync-files", "yes")
    r2 = servers("redislet", "--replicaof", "127.0.0.1", str(m.port))
    wait_synced(mc, cli(r2))
    assert cli(r2).get("b") == b"2"
    wait_for(lambda: not dump.exists(), 10, "the sync's dump file removed")
    assert ("Removing the RDB file used to feed replicas in a persistence-less instance"
            in (tmp_path / "s0" / "server.log").read_text())


@pytest.mark.parametrize("kind", ["redislet", "redis"])
def test_replica_that_cannot_persist(servers, tmp_path, kind):
    """Redis 7.0: a replica whose BGSAVE failed (save points set) answers MISCONF to its
    clients' writes and PINGs, ahead of READONLY; its master's writes are applied (and
    logged) with replica-ignore-disk-write-errors, and are a panic without it."""
    m = servers(kind, *FAST)
    r = servers(kind, "--save", "1000 1000", "--replica-ignore-disk-write-errors", "yes")
    mc, rc = cli(m), cli(r)
    rc.replicaof("127.0.0.1", m.port)
    mc.set("a", 1)
    wait_synced(mc, rc)
    dump = tmp_path / "s1" / "dump.rdb"
    if dump.exists():
        dump.unlink()
    dump.mkdir()                # the rename over it fails (even as root)
    rc.execute_command("BGSAVE")
    wait_for(lambda: info(rc, "persistence")["rdb_bgsave_in_progress"] == "0"
             and info(rc, "persistence")["rdb_last_bgsave_status"] == "err", 10,
             "the replica's failed BGSAVE")
    with pytest.raises(redis.ResponseError, match="^MISCONF Redis is configured"):
        rc.ping()
    with pytest.raises(redis.ResponseError, match="^MISCONF Redis is configured"):
        rc.set("x", 1)
    assert rc.get("a") == b"1"
    mc.set("b", 2)
    wait_synced(mc, rc)
    assert rc.get("b") == b"2"
    log = tmp_path / "s1" / "server.log"
    assert ("Replica is applying a command even though it is unable to write to disk."
            in log.read_text())
    rc.config_set("replica-ignore-disk-write-errors", "no")
    mc.set("c", 3)
    wait_for(lambda: r.proc.poll() is not None, 10, "the replica's panic")
    assert "Replica was unable to write command to disk." in log.read_text()


def test_rdb_only_disk_transfer_is_whole(servers, tmp_path):
    """redis-cli --rdb from a disk-target master: the rdb-only replica is dropped only once
    every byte of the file reached its socket (a file bigger than the socket buffers, so
    that part of it is still in the transport when the file's end is read)."""
    import os
    import shutil
    import subprocess
    cli_bin = shutil.which("redis-cli")
    if cli_bin is None:
        pytest.skip("redis-cli (Debian's redis-tools) is not installed")
    m = servers("redislet", "--repl-diskless-sync", "no")
    mc = cli(m)
    p = mc.pipeline(transaction=False)
    for i in range(12000):
        p.set("k%d" % i, os.urandom(1000))      # incompressible: a 12 MB file
    p.execute()
    out = tmp_path / "cli.rdb"
    res = subprocess.run([cli_bin, "-p", str(m.port), "--rdb", str(out)],
                         capture_output=True, text=True, timeout=60)
    assert "Transfer finished with success" in res.stdout + res.stderr
    assert out.read_bytes() == (tmp_path / "s0" / "dump.rdb").read_bytes()


# -- partial resynchronization ---------------------------------------------------------------
@pytest.mark.parametrize("master_kind", ["redislet", "redis"])
def test_partial_resync_after_link_loss(servers, master_kind):
    m = servers(master_kind, *FAST)
    mc = cli(m)
    populate(mc, 20)
    r = servers("redislet", "--replicaof", "127.0.0.1", str(m.port))
    rc = cli(r)
    wait_synced(mc, rc)
    stop = threading.Event()

    def load():
        c = cli(m)
        i = 0
        while not stop.is_set():
            c.set("live:%d" % (i % 500), i)
            c.incr("live:n")
            if i % 7 == 0:
                p = c.pipeline(transaction=True)
                p.rpush("live:l", i)
                p.hset("live:h", "f%d" % (i % 50), i)
                p.execute_command("SELECT", 1)
                p.incr("live:db1")
                p.execute()
            i += 1
    t = threading.Thread(target=load)
    t.start()
    try:
        time.sleep(0.3)
        rc.client_kill_filter(_type="master")
        time.sleep(0.3)
        mc.client_kill_filter(_type="replica")
        time.sleep(0.3)
    finally:
        stop.set()
        t.join()
    wait_synced(mc, rc)
    assert snapshot(rc) == snapshot(mc)
    st = info(mc, "stats")
    assert st["sync_full"] == "1"
    assert int(st["sync_partial_ok"]) == 2


def test_replica_restart_catches_up(servers):
    m = servers("redislet", *FAST)
    mc = cli(m)
    populate(mc, 20)
    r = servers("redislet", "--replicaof", "127.0.0.1", str(m.port))
    wait_synced(mc, cli(r))
    r.stop()
    write_load(mc, 50)
    r2 = servers("redislet", "--replicaof", "127.0.0.1", str(m.port))
    rc = cli(r2)
    write_load(mc, 50, prefix="v")
    settle_expired(mc)
    wait_synced(mc, rc)
    assert snapshot(rc) == snapshot(mc)
    assert int(info(mc, "stats")["sync_full"]) >= 2


# -- redislet to redislet: two replicas, WAIT, promotion -------------------------------------
def test_two_replicas_wait_and_promotion(servers):
    m = servers("redislet", *FAST)
    mc = cli(m)
    populate(mc, 20)
    r1 = servers("redislet", "--replicaof", "127.0.0.1", str(m.port))
    r2 = servers("redislet", "--replicaof", "127.0.0.1", str(m.port))
    c1, c2 = cli(r1), cli(r2)
    wait_synced(mc, c1, c2)
    write_load(mc, 100)
    assert mc.wait(2, 5000) == 2
    settle_expired(mc)
    wait_synced(mc, c1, c2)
    snap = snapshot(mc)
    assert snapshot(c1) == snap and snapshot(c2) == snap
    # promote r1; r2 follows it with a partial resync (psync2: replid2)
    old_id = info(mc)["master_replid"]
    assert c1.replicaof("NO", "ONE") == b"OK"
    i1 = info(c1)
    assert i1["role"] == "master" and i1["master_replid2"] == old_id
    assert int(i1["second_repl_offset"]) == int(info(mc)["master_repl_offset"]) + 1
    c2.replicaof("127.0.0.1", r1.port)
    wait_for(lambda: info(c2).get("master_link_status") == "up", what="r2 -> r1")
    assert info(c1, "stats")["sync_partial_ok"] == "1"
    assert info(c1, "stats")["sync_full"] == "0"
    c1.set("after-promotion", 1)
    write_load(c1, 30, prefix="p")
    settle_expired(c1)
    assert c1.wait(1, 5000) == 1
    wait_synced(c1, c2)
    assert snapshot(c2) == snapshot(c1)
    assert info(c2)["master_replid"] == info(c1)["master_replid"]


def test_chained_replicas_get_the_stream_verbatim(servers):
    m = servers("redis", *FAST)
    mc = cli(m)
    populate(mc, 10)
    r1 = servers("redislet", "--replicaof", "127.0.0.1", str(m.port),
                 "--repl-diskless-sync-delay", "0")
    c1 = cli(r1)
    wait_synced(mc, c1)
    r2 = servers("redis", "--replicaof", "127.0.0.1", str(r1.port))
    r3 = servers("redislet", "--replicaof", "127.0.0.1", str(r1.port))
    c2, c3 = cli(r2), cli(r3)
    write_load(mc, 60)
    mc.execute_command("SELECT", 3)
    mc.set("in-db3", 1)
    mc.execute_command("SELECT", 0)
    settle_expired(mc)
    wait_synced(mc, c1)
    wait_synced(c1, c2, c3)
    snap = snapshot(mc)
    assert snapshot(c1) == snap and snapshot(c2) == snap and snapshot(c3) == snap
    # the whole chain shares the top master's history and offsets
    assert info(c2)["master_replid"] == info(c3)["master_replid"] == info(mc)["master_replid"]
    assert info(c3)["master_repl_offset"] == info(mc)["master_repl_offset"]


# -- replica-side rules --------------------------------------------------------------------------
def test_replica_read_only_and_stale_data(servers):
    r = servers("redislet", "--replicaof", "127.0.0.1", "1")   # a master that is not there
    conn = Raw(r.port)
    assert conn.cmd("SET", "a", "1") == b"-READONLY You can't write against a read only replica.\r\n"
    assert conn.cmd("GET", "a") == b"$-1\r\n"
    conn.cmd("MULTI")
    assert conn.cmd("SET", "a", "1").startswith(b"-READONLY")
    assert conn.cmd("EXEC").startswith(b"-EXECABORT")
    assert conn.cmd("CONFIG", "SET", "replica-serve-stale-data", "no") == b"+OK\r\n"
    assert conn.cmd("GET", "a") == (b"-MASTERDOWN Link with MASTER is down and "
                                    b"replica-serve-stale-data is set to 'no'.\r\n")
    assert conn.cmd("PING").startswith(b"-MASTERDOWN")
    assert conn.cmd("INFO", "replication").startswith(b"$")      # stale-ok command
    assert conn.cmd("CONFIG", "SET", "replica-read-only", "no") == b"+OK\r\n"
    assert conn.cmd("CONFIG", "SET", "replica-serve-stale-data", "yes") == b"+OK\r\n"
    assert conn.cmd("SET", "a", "1") == b"+OK\r\n"
    assert conn.cmd("WAIT", "0", "0").startswith(b"-ERR WAIT cannot be used with replica "
                                                 b"instances.")
    assert conn.cmd("ROLE") in (b"*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:1\r\n$7\r\nconnect"
                                b"\r\n:-1\r\n",
                                b"*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:1\r\n$10\r\n"
                                b"connecting\r\n:-1\r\n")
    assert conn.cmd("REPLICAOF", "127.0.0.1", "1") == b"+OK Already connected to specified master\r\n"
    i = conn.cmd("INFO", "replication").decode()
    assert "master_link_status:down" in i and "master_link_down_since_seconds:-1" in i
    assert conn.cmd("REPLICAOF", "no", "one") == b"+OK\r\n"
    assert conn.cmd("ROLE").startswith(b"*3\r\n$6\r\nmaster\r\n")
    assert conn.cmd("SET", "b", "1") == b"+OK\r\n"
    conn.close()


def test_min_replicas_to_write(servers):
    m = servers("redislet", *FAST)
    conn = Raw(m.port)
    conn.cmd("CONFIG", "SET", "min-replicas-to-write", "1")
    assert conn.cmd("SET", "a", "1") == b"-NOREPLICAS Not enough good replicas to write.\r\n"
    assert conn.cmd("GET", "a") == b"$-1\r\n"
    assert b"min_slaves_good_slaves:0" in conn.cmd("INFO", "replication")
    r = servers("redislet", "--replicaof", "127.0.0.1", str(m.port))
    wait_for(lambda: conn.cmd("SET", "a", "1") == b"+OK\r\n", what="good replica")
    conn.cmd("CONFIG", "SET", "min-replicas-to-write", "0")
    assert cli(r).role()[0] == b"slave"
    conn.close()


def test_wait_semantics(servers):
    m = servers("redislet", *FAST)
    mc = cli(m)
    assert mc.wait(0, 0) == 0
    t0 = time.time()
    mc.set("x", 1)
    assert mc.wait(1, 200) == 0                  # no replica: times out
    assert time.time() - t0 >= 0.19
    r = servers("redislet", "--replicaof", "127.0.0.1", str(m.port),
                "--enable-debug-command", "yes")
    wait_synced(mc, cli(r))
    mc.set("x", 2)
    assert mc.wait(1, 0) == 1
    assert mc.wait(2, 300) == 1                   # only one replica
    p = mc.pipeline(transaction=True)
    p.set("y", 1)
    p.wait(5, 0)                                  # inside MULTI: at once
    res = p.execute()
    assert res[0] is True and res[1] in (0, 1)
    conn = Raw(m.port)
    assert conn.cmd("WAIT", "x", "0") == b"-ERR value is not an integer or out of range\r\n"
    assert conn.cmd("WAIT", "1", "-1") == b"-ERR timeout is negative\r\n"
    conn.close()
    # a replica that stops processing does not acknowledge
    rc = cli(r)
    mc.set("z", 1)
    threading.Thread(target=lambda: cli(r).execute_command("DEBUG", "SLEEP", "0.6")).start()
    time.sleep(0.1)
    mc.set("z", 2)
    assert mc.wait(1, 200) == 0
    assert mc.wait(1, 3000) == 1
    assert rc.get("z") == b"2"


def test_sync_from_a_plain_client_gets_rdb_then_stream(servers):
    m = servers("redislet", *FAST)
    mc = cli(m)
    mc.set("before", 1)
    mc.config_set("repl-ping-replica-period", 3600)   # as attach_to_replication_stream
    s = socket.create_connection(("127.0.0.1", m.port), timeout=5)
    s.sendall(b"SYNC\r\n")
    f = s.makefile("rb")
    line = f.readline()
    while line == b"\n":
        line = f.readline()
    assert line.startswith(b"$")
    rdb = f.read(int(line[1:-2]))
    assert rdb.startswith(b"REDIS0010")
    mc.set("after", 2)
    mc.execute_command("SELECT", 5)
    mc.execute_command("INCR", "n")
    expected = (encode_command(["SELECT", "0"]) + encode_command(["SET", "after", "2"])
                + encode_command(["SELECT", "5"]) + encode_command(["INCR", "n"]))
    got = f.read(len(expected))
    assert got == expected
    assert info(mc, "stats")["sync_full"] == "1"
    s.close()


def test_psync_handshake_bytes(servers):
    m = servers("redislet", *FAST)
    conn = Raw(m.port)
    assert conn.cmd("REPLCONF", "listening-port", "1234") == b"+OK\r\n"
    assert conn.cmd("REPLCONF", "capa", "eof", "capa", "psync2") == b"+OK\r\n"
    conn.send(encode_command(["PSYNC", "?", "-1"]))
    conn.sock.settimeout(5)
    data = b""
    while b"\r\n" not in data:
        data += conn.sock.recv(100)
    assert data.startswith(b"+FULLRESYNC ")
    replid, off = data.split(b"\r\n")[0].split()[1:]
    assert len(replid) == 40 and off == b"0"
    assert info(cli(m))["master_replid"] == replid.decode()
    # this replica asks again with the same history: partial resync
    conn.close()
    conn = Raw(m.port)
    conn.cmd("REPLCONF", "capa", "psync2")
    conn.send(encode_command(["PSYNC", replid.decode(), "1"]))
    assert conn.sock.recv(100).startswith(b"+CONTINUE " + replid)
    conn.close()


# -- differential: argument errors -------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ("REPLCONF", "listening-port"),
    ("REPLCONF", "listening-port", "x"),
    ("REPLCONF", "foo", "bar"),
    ("REPLCONF", "rdb-only", "2"),
    ("REPLCONF", "rdb-filter-only", "keys"),
    ("REPLCONF", "capa", "foo"),
    ("REPLCONF",),
    ("REPLICAOF", "127.0.0.1", "x"),
    ("REPLICAOF", "127.0.0.1", "70000"),
    ("REPLICAOF", "127.0.0.1"),
    ("SLAVEOF", "localhost", "-1"),
    ("REPLICAOF", "no", "one"),
    ("WAIT", "1"),
    ("WAIT", "a", "1"),
    ("WAIT", "1", "b"),
    ("WAIT", "0", "-5"),
    ("PSYNC", "x"),
    ("ROLE", "x"),
])
def test_argument_errors_match_redis(both, args):
    both(*args)


def test_replconf_ack_and_getack_have_no_reply(both):
    for conn in (both.a, both.b):
        conn.send(encode_command(["REPLCONF", "ACK", "10"]) + encode_command(["REPLCONF", "GETACK", "*"])
                  + encode_command(["PING"]))
        assert conn.read_reply() == b"+PONG\r\n"


def test_role_and_info_on_plain_master(both):
    both("ROLE")
    ia = both.a.cmd("INFO", "replication").decode()
    ib = both.b.cmd("INFO", "replication").decode()
    keys = lambda s: [ln.split(":")[0] for ln in s.splitlines() if ":" in ln]
    assert keys(ia) == keys(ib)
