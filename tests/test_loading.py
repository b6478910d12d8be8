"""Loading as Redis reports and serves it: INFO persistence's loading_* fields during the
start-up RDB and AOF loads (redislet and redis-server loading the same files), -LOADING
while the AOF loads, SIGTERM meanwhile, and the progress arithmetic."""
import os
import shutil
import signal
import time

import pytest
import redis

import conftest
from conftest import REDIS_SERVER, Raw, start_real_redis, start_redislet

LOADING = b"-LOADING Redis is loading the dataset in memory\r\n"
INTERVAL = 1024
# about 9 ms between two yields of the load: time for a client's round trip
SLOW = ("--key-load-delay", "500", "--loading-process-events-interval-bytes", str(INTERVAL))
LOADING_FIELDS = [b"loading_start_time", b"loading_total_bytes", b"loading_rdb_used_mem",
                  b"loading_loaded_bytes", b"loading_loaded_perc", b"loading_eta_seconds"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """dump.rdb and a multi-part AOF (an RDB base of 1000 keys, 2100 SETs in the incr
    file), written by redislet."""
    d = tmp_path_factory.mktemp("dataset")
    s = start_redislet(d, "--appendonly", "yes")
    try:
        c = redis.Redis(port=s.port)
        c.execute_command("DEBUG", "POPULATE", 1000, "key", 40)
        c.save()
        _wait_rewrite(c)
        c.bgrewriteaof()
        _wait_rewrite(c)
        p = c.pipeline(transaction=False)
        for i in range(2100):
            p.set("x%d" % i, i)
        p.execute()
    finally:
        s.stop()
    return d


def _wait_rewrite(c):
    deadline = time.time() + 10
    while time.time() < deadline:
        i = c.info("persistence")
        if not i["aof_rewrite_in_progress"] and not i["aof_rewrite_scheduled"]:
            return
        time.sleep(0.02)
    raise AssertionError("AOF rewrite did not finish")


def _fields(reply):
    """INFO's reply (bulk or RESP3 verbatim) -> [(name, value)] in order."""
    body = reply.split(b"\r\n", 1)[1]
    if body.startswith(b"txt:"):
        body = body[4:]
    return [tuple(line.split(b":", 1)) for line in body.split(b"\r\n")
            if line and not line.startswith(b"#")]


def _load(tmp_path, monkeypatch, start, dataset, what, *args):
    """Start a server on a copy of the dataset's `what` ("dump.rdb" or "appendonlydir")
    and follow its load: one INFO persistence at a time (answered at the load's next
    yield) until it says loading:0. Returns (the replies while loading, the one after,
    RESP3 replies to GET and INFO while loading, the server)."""
    src = os.path.join(dataset, what)
    if os.path.isdir(src):
        shutil.copytree(src, os.path.join(tmp_path, what))
    else:
        shutil.copy(src, tmp_path)
    monkeypatch.setattr(conftest, "wait_ready", conftest.wait_up)
    s = start(tmp_path, *SLOW, *args)
    conn, conn3 = Raw(s.port), Raw(s.port)
    try:
        assert conn3.cmd("HELLO", "3").startswith(b"%7\r\n")
        resp3 = None
        seen = []
        deadline = time.time() + 30
        while time.time() < deadline:
            fields = _fields(conn.cmd("INFO", "persistence"))
            if dict(fields)[b"loading"] == b"0":
                return seen, fields, resp3, s
            seen.append(fields)
            if resp3 is None:
                resp3 = (conn3.cmd("GET", "key:1"), conn3.cmd("INFO", "persistence"))
        raise AssertionError("still loading")
    finally:
        conn.close()
        conn3.close()


def _check_load(seen, after, resp3, total):
    """What every server's load shows: the loading fields last in the section, values
    that add up, progress that grows; none of them once loaded."""
    assert len(seen) >= 3
    loaded = []
    for fields in seen:
        assert [k for k, _v in fields[-6:]] == LOADING_FIELDS
        f = dict(fields)
        assert f[b"loading"] == b"1"
        assert abs(int(f[b"loading_start_time"]) - time.time()) < 60
        assert int(f[b"loading_total_bytes"]) == total
        n = int(f[b"loading_loaded_bytes"])
        assert 0 <= n <= total
        assert f[b"loading_loaded_perc"] == b"%.2f" % (n * 100.0 / total)
        assert int(f[b"loading_eta_seconds"]) >= 0
        loaded.append(n)
    assert loaded == sorted(loaded) and loaded[-1] > loaded[0]
    assert not any(k.startswith(b"loading_") for k, _v in after)
    get, info = resp3
    assert get == LOADING
    assert info.startswith(b"=") and b"\r\ntxt:# Persistence\r\n" in info
    assert [k for k, _v in _fields(info)[-6:]] == LOADING_FIELDS
    return loaded


def _by_mark(seen):
    """loading_loaded_bytes by the interval mark the read it reports passed: a file's
    marks each have one value, whenever a poll saw it."""
    out = {}
    for fields in seen:
        n = int(dict(fields)[b"loading_loaded_bytes"])
        if n:
            out[(n // INTERVAL + 1) * INTERVAL] = n
    return out


def _loads(dataset, tmp_path_factory, what, dbsize, *args):
    """The loads of the dataset's `what` by redislet and (when installed) by redis-server:
    {name: (replies while loading, reply after, RESP3 replies)}."""
    out = {}
    mp = pytest.MonkeyPatch()
    try:
        for name, start in (("ours", start_redislet), ("real", start_real_redis)):
            if name == "real" and REDIS_SERVER is None:
                continue
            seen, after, resp3, s = _load(tmp_path_factory.mktemp(name), mp, start, dataset,
                                          what, *args)
            try:
                c = redis.Redis(port=s.port)
                assert c.dbsize() == dbsize and c.get("key:1") == b"value:1".ljust(40, b"\0")
            finally:
                s.stop()
            out[name] = (seen, after, resp3)
    finally:
        mp.undo()
    return out


# -- the start-up RDB load ------------------------------------------------------------------
@pytest.fixture(scope="module")
def rdb_loads(dataset, tmp_path_factory):
    return _loads(dataset, tmp_path_factory, "dump.rdb", 1000)


def test_rdb_load_info_fields(rdb_loads, dataset):
    seen, after, resp3 = rdb_loads["ours"]
    total = os.path.getsize(os.path.join(dataset, "dump.rdb"))
    _check_load(seen, after, resp3, total)
    used_mem = {dict(f)[b"loading_rdb_used_mem"] for f in seen}
    assert len(used_mem) == 1 and int(used_mem.pop()) > 0    # the RDB's used-mem AUX


def test_rdb_load_info_fields_as_redis(rdb_loads):
    if "real" not in rdb_loads:
        pytest.skip("Debian's redis-server is not installed: no differential run")
    ours, real = rdb_loads["ours"], rdb_loads["real"]
    assert [k for k, _v in ours[0][0]] == [k for k, _v in real[0][0]]
    assert [k for k, _v in ours[1]] == [k for k, _v in real[1]]
    for name in (b"loading_total_bytes", b"loading_rdb_used_mem"):
        assert dict(ours[0][0])[name] == dict(real[0][0])[name]
    # the same bytes loaded at each mark both saw
    a, b = _by_mark(ours[0]), _by_mark(real[0])
    common = set(a) & set(b)
    assert len(common) >= 3
    assert {m: a[m] for m in common} == {m: b[m] for m in common}


# -- the start-up AOF load ------------------------------------------------------------------
def _aof_files(dataset):
    """(the base's size, the base's and incr's sizes, the incr file's bytes)."""
    d = os.path.join(dataset, "appendonlydir")
    names = os.listdir(d)
    base = [os.path.getsize(os.path.join(d, n)) for n in names if ".base." in n]
    incr = [n for n in names if ".incr." in n]
    assert len(base) == len(incr) == 1
    with open(os.path.join(d, incr[0]), "rb") as f:
        data = f.read()
    return base[0], base[0] + len(data), data


def _aof_progress(dataset, seen):
    """The loaded bytes seen while the incr file was replayed: Redis counts them every
    1024 commands (from its first), after the base's size."""
    base, _total, data = _aof_files(dataset)
    starts, pos = [], 0
    while pos < len(data):          # (a plain RESP command stream, no annotations)
        starts.append(pos)
        argc, pos = _resp_int(data, pos)
        for _ in range(argc):
            n, pos = _resp_int(data, pos)
            pos += n + 2
    marks = {base + p for p in starts[::1024]}
    seen = {int(dict(f)[b"loading_loaded_bytes"]) for f in seen}
    return {n for n in seen if n >= base}, marks


def _resp_int(data, pos):
    end = data.index(b"\r\n", pos)
    return int(data[pos + 1:end]), end + 2


@pytest.fixture(scope="module")
def aof_loads(dataset, tmp_path_factory):
    return _loads(dataset, tmp_path_factory, "appendonlydir", 3100, "--appendonly", "yes")


def test_aof_load_serves_clients(aof_loads, dataset):
    seen, after, resp3 = aof_loads["ours"]
    _check_load(seen, after, resp3, _aof_files(dataset)[1])
    replayed, marks = _aof_progress(dataset, seen)
    assert replayed <= marks
    assert all(dict(f)[b"aof_enabled"] == b"0" for f in seen)    # off while replaying
    assert dict(after)[b"aof_enabled"] == b"1"


def test_aof_load_as_redis(aof_loads, dataset):
    if "real" not in aof_loads:
        pytest.skip("Debian's redis-server is not installed: no differential run")
    (ours, ours_after, _r), (real, real_after, _r3) = aof_loads["ours"], aof_loads["real"]
    assert [k for k, _v in ours[0]] == [k for k, _v in real[0]]
    assert [k for k, _v in ours_after] == [k for k, _v in real_after]
    for name in (b"aof_enabled", b"loading_total_bytes", b"loading_rdb_used_mem"):
        assert dict(ours[0])[name] == dict(real[0])[name]
    a, b = _by_mark(ours), _by_mark(real)       # the RDB base
    common = {m for m in set(a) & set(b) if a[m] < _aof_files(dataset)[0]}
    assert len(common) >= 3
    assert {m: a[m] for m in common} == {m: b[m] for m in common}
    replayed, marks = _aof_progress(dataset, real)     # (the expectation holds for Redis)
    assert replayed and replayed <= marks


def test_sigterm_during_aof_load_exits_as_redis(dataset, tmp_path, monkeypatch):
    logs = []
    for name, start in (("ours", start_redislet), ("real", start_real_redis)):
        if name == "real" and REDIS_SERVER is None:
            continue
        d = tmp_path / name
        d.mkdir()
        shutil.copytree(os.path.join(dataset, "appendonlydir"), d / "appendonlydir")
        monkeypatch.setattr(conftest, "wait_ready", conftest.wait_up)
        s = start(d, *SLOW, "--appendonly", "yes")
        try:
            assert Raw(s.port).cmd("GET", "key:1") == LOADING
            s.proc.send_signal(signal.SIGTERM)
            assert s.proc.wait(10) == 0
        finally:
            s.stop()
        with open(os.path.join(d, "server.log")) as f:
            log = f.read()
        # the shutdown of whileBlockedCron: no save, and the AOF is off while loading
        tail = log.split("Received shutdown signal during loading, scheduling shutdown.")[1]
        logs.append([line.split(" ", 6)[-1] for line in tail.splitlines() if line])
    assert logs[0] == ["User requested shutdown...", "Redis is now ready to exit, bye bye..."]
    if len(logs) == 2:
        assert logs[0] == logs[1]


# -- a replica's load ------------------------------------------------------------------------
def test_diskless_replica_load_info_fields(tmp_path):
    """An RDB ended by an EOF mark has no known size: the progress is against the used-mem
    of its AUX field, at most 99.99%."""
    (tmp_path / "m").mkdir()
    (tmp_path / "r").mkdir()
    m = start_redislet(tmp_path / "m", "--repl-diskless-sync-delay", "0")
    r = start_redislet(tmp_path / "r", *SLOW, "--repl-diskless-load", "on-empty-db")
    try:
        redis.Redis(port=m.port).execute_command("DEBUG", "POPULATE", 1000, "key", 40)
        conn = Raw(r.port)
        conn.cmd("REPLICAOF", "127.0.0.1", str(m.port))
        seen = []
        deadline = time.time() + 20
        while time.time() < deadline:
            fields = _fields(conn.cmd("INFO", "persistence"))
            if dict(fields)[b"loading"] == b"1":
                seen.append(dict(fields))
            elif seen:
                break
        assert len(seen) >= 3 and not any(k.startswith(b"loading_") for k, _v in fields)
        for f in seen:      # (used-mem is 0 until its AUX field is read)
            assert f[b"loading_total_bytes"] == b"0"
            used, loaded = int(f[b"loading_rdb_used_mem"]), int(f[b"loading_loaded_bytes"])
            perc = min(loaded * 100.0 / used, 99.99) if used else 0
            assert f[b"loading_loaded_perc"] == b"%.2f" % perc
        assert int(seen[-1][b"loading_rdb_used_mem"]) > 0
        assert seen[-1][b"loading_loaded_bytes"] > seen[0][b"loading_loaded_bytes"]
        conn.close()
    finally:
        r.stop()
        m.stop()


# -- DEBUG RELOAD ---------------------------------------------------------------------------
def test_debug_reload_serves_clients(dataset, tmp_path):
    results = []
    for name, start in (("ours", start_redislet), ("real", start_real_redis)):
        if name == "real" and REDIS_SERVER is None:
            continue
        (tmp_path / name).mkdir()
        shutil.copy(os.path.join(dataset, "dump.rdb"), tmp_path / name)
        s = start(tmp_path / name)
        a, b = Raw(s.port), Raw(s.port)
        try:
            a.cmd("CONFIG", "SET", "key-load-delay", "500")
            a.cmd("CONFIG", "SET", "loading-process-events-interval-bytes", str(INTERVAL))
            a.send(conftest.encode_command(["DEBUG", "RELOAD", "NOSAVE"]))
            deadline = time.time() + 10
            while b.cmd("PING") == b"+PONG\r\n" and time.time() < deadline:
                pass
            during = (b.cmd("GET", "key:1"), _fields(b.cmd("INFO", "persistence")))
            results.append((during[0], [k for k, _v in during[1]], a.read_reply(),
                            b.cmd("DBSIZE"), _fields(b.cmd("INFO", "persistence"))))
            f = dict(during[1])
            assert int(f[b"loading_total_bytes"]) == os.path.getsize(tmp_path / name /
                                                                      "dump.rdb")
        finally:
            a.close()
            b.close()
            s.stop()
    get, names, reply, dbsize, after = results[0]
    assert (get, names[-6:], reply, dbsize) == (LOADING, LOADING_FIELDS, b"+OK\r\n", b":1000\r\n")
    assert not any(k.startswith(b"loading_") for k, _v in after)
    if len(results) == 2:
        assert results[0][:4] == results[1][:4]
        assert [k for k, _v in results[0][4]] == [k for k, _v in results[1][4]]


# -- the arithmetic -------------------------------------------------------------------------
class _Srv:
    loading = True
    async_loading = False


def test_progress_fields_arithmetic(monkeypatch):
    from redislet.persistence import loading
    srv = _Srv()
    loading.start(srv, 0)
    monkeypatch.setattr(time, "time", lambda: srv.loading_start_time + 10)
    srv.loading_rdb_used_mem = 1000      # no size known: perc from used-mem, at most 99.99
    srv.loading_loaded_bytes = 1500
    f = dict(loading.info_fields(srv))
    assert (f["loading_loaded_perc"], f["loading_eta_seconds"]) == ("99.99", 0)
    srv.loading_loaded_bytes = 250
    f = dict(loading.info_fields(srv))
    assert (f["loading_loaded_perc"], f["loading_eta_seconds"]) == ("25.00", 29)
    srv.loading_total_bytes = 2000       # (elapsed * remaining) / (loaded + 1)
    f = dict(loading.info_fields(srv))
    assert (f["loading_loaded_perc"], f["loading_eta_seconds"]) == ("12.50", 69)
    loading.stop(srv)
    assert loading.info_fields(srv) == []


def test_failed_debug_reload_leaves_no_keys(tmp_path):
    """DEBUG RELOAD empties the dataset, then loads into it: when dump.rdb is corrupt, the
    error comes back and only the keys read before the error are left, as on
    redis-server (here the one key, whose name the corruption changed)."""
    results = []
    for name, start in (("ours", start_redislet), ("real", start_real_redis)):
        if name == "real" and REDIS_SERVER is None:
            continue
        (tmp_path / name).mkdir()
        s = start(tmp_path / name)
        a = Raw(s.port)
        try:
            a.cmd("SET", "k", "v")
            assert a.cmd("SAVE") == b"+OK\r\n"
            path = tmp_path / name / "dump.rdb"
            data = bytearray(path.read_bytes())
            data[-12] ^= 0xff               # the file's last bytes: a bad checksum
            path.write_bytes(bytes(data))
            a.cmd("SET", "other", "x")      # (not in the file: gone after the reload)
            results.append((a.cmd("DEBUG", "RELOAD", "NOSAVE"), a.cmd("DBSIZE"),
                            a.cmd("GET", "k"), a.cmd("GET", "other")))
        finally:
            a.close()
            s.stop()
    assert results[0] == (b"-ERR Error trying to load the RDB dump\r\n", b":1\r\n", b"$-1\r\n",
                          b"$-1\r\n")
    if len(results) == 2:
        assert results[0] == results[1]
