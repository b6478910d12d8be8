"""AOF details compared with a real redis-server: a commands-only rewrite starts with the
FUNCTION LOAD of every library (rewriteFunctions) and DEBUG LOADAOF brings them back; a
format error is the last thing logged before the server exits."""
import os
import subprocess
import sys
import time

import pytest

from conftest import REDIS_SERVER, ROOT, Raw, free_port, start_real_redis, start_redislet

LIB = b"#!lua name=test\nredis.register_function('test', function() return 1 end)"


def _wait_rewrite(c):
    deadline = time.time() + 20
    while time.time() < deadline:
        info = c.cmd("INFO", "persistence")
        if (b"aof_rewrite_in_progress:0" in info and b"aof_rewrite_scheduled:0" in info):
            return
        time.sleep(0.05)
    raise AssertionError("rewrite did not finish")


def _rewrite_functions(srv, d):
    c = Raw(srv.port)
    try:
        # appendonly stays off (as in unit/aofrw by then): FUNCTION FLUSH is not logged and
        # DEBUG LOADAOF reads the rewritten base alone
        c.cmd("CONFIG", "SET", "aof-use-rdb-preamble", "no")
        assert c.cmd("FUNCTION", "LOAD", LIB) == b"$4\r\ntest\r\n"
        c.cmd("SET", "k", "v")
        assert c.cmd("BGREWRITEAOF").startswith(b"+Background append only file rewriting")
        _wait_rewrite(c)
        bases = [n for n in os.listdir(os.path.join(d, "appendonlydir"))
                 if ".base." in n]
        assert len(bases) == 1
        with open(os.path.join(d, "appendonlydir", bases[0]), "rb") as f:
            base = f.read()
        out = [base]
        out.append(c.cmd("FUNCTION", "FLUSH"))
        out.append(c.cmd("DEBUG", "LOADAOF"))
        out.append(c.cmd("FCALL", "test", "0"))
        out.append(c.cmd("FUNCTION", "LIST"))
        out.append(c.cmd("GET", "k"))
        return out
    finally:
        c.close()


def test_rewrite_writes_function_load_like_redis(tmp_path):
    (tmp_path / "ours").mkdir()
    (tmp_path / "real").mkdir()
    ours = start_redislet(tmp_path / "ours")
    try:
        mine = _rewrite_functions(ours, str(tmp_path / "ours"))
    finally:
        ours.stop()
    assert mine[0].startswith(b"*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$%d\r\n%s\r\n"
                              % (len(LIB), LIB))
    assert mine[1:4] == [b"+OK\r\n", b"+OK\r\n", b":1\r\n"]
    real = start_real_redis(tmp_path / "real")
    try:
        theirs = _rewrite_functions(real, str(tmp_path / "real"))
    finally:
        real.stop()
    assert mine == theirs


def _bad_format_log(argv, d):
    os.makedirs(os.path.join(d, "appendonlydir"))
    with open(os.path.join(d, "appendonlydir", "appendonly.aof.1.incr.aof"), "wb") as f:
        f.write(b"*3\r\n$3\r\nset\r\n$3\r\nfoo\r\n$5\r\nhello\r\n!!!"
                b"*3\r\n$3\r\nset\r\n$3\r\nfoo\r\n$5\r\nhello\r\n")
    with open(os.path.join(d, "appendonlydir", "appendonly.aof.manifest"), "w") as f:
        f.write("file appendonly.aof.1.incr.aof seq 1 type i\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.run(argv + ["--port", str(free_port()), "--appendonly", "yes",
                               "--aof-load-truncated", "yes", "--dir", d],
                       capture_output=True, timeout=60, env=env)
    return p.returncode, p.stdout.decode().rstrip("\n").split("\n")[-1]


def test_bad_format_is_the_last_log_line(tmp_path):
    rc, last = _bad_format_log([sys.executable, "-m", "redislet"], str(tmp_path / "ours"))
    assert rc == 1
    assert last.split(" # ", 1)[1] == (
        "Bad file format reading the append only file appendonly.aof.1.incr.aof: make a "
        "backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>")
    if REDIS_SERVER is not None:
        rrc, rlast = _bad_format_log([REDIS_SERVER], str(tmp_path / "real"))
        assert (rrc, rlast.split(" # ", 1)[1]) == (rc, last.split(" # ", 1)[1])


def _loadaof_scenario(srv):
    c = Raw(srv.port)
    try:
        c.cmd("CONFIG", "SET", "appendonly", "yes")
        _wait_rewrite(c)
        c.cmd("SET", "k1", "v1")
        c.cmd("CONFIG", "SET", "appendonly", "no")
        c.cmd("FUNCTION", "LOAD", LIB)            # not in the AOF
        c.cmd("SET", "k2", "v2")                  # not in the AOF
        c.cmd("CONFIG", "SET", "rdb-key-save-delay", "10000000")
        out = [c.cmd("BGSAVE")]
        out.append(c.cmd("DEBUG", "LOADAOF"))
        # emptyData: functions dropped, keys reloaded; the BGSAVE child is not killed
        info = c.cmd("INFO", "persistence")
        out.append(b"rdb_bgsave_in_progress:1" in info)
        out.append(c.cmd("FUNCTION", "LIST"))
        out.append(c.cmd("MGET", "k1", "k2"))
        c.cmd("CONFIG", "SET", "rdb-key-save-delay", "0")
        return out
    finally:
        c.close()


def test_debug_loadaof_empties_like_emptydata(tmp_path):
    (tmp_path / "ours").mkdir()
    (tmp_path / "real").mkdir()
    results = []
    for start, d in ((start_redislet, "ours"), (start_real_redis, "real")):
        srv = start(tmp_path / d)
        try:
            results.append(_loadaof_scenario(srv))
        finally:
            srv.stop()
    assert results[0] == [b"+Background saving started\r\n", b"+OK\r\n", True, b"*0\r\n",
                          b"*2\r\n$2\r\nv1\r\n$-1\r\n"]
    assert results[0] == results[1]


SLOW_SCRIPT = ("redis.call('set', KEYS[1], 'y') "
               "local t0 = redis.call('time') "
               "local start = t0[1] * 1000000 + t0[2] "
               "while true do local t = redis.call('time') "
               "if t[1] * 1000000 + t[2] - start > 600000 then break end end "
               "return 'ok'")


def _slow_script_load(srv, d):
    from conftest import encode_command
    c = Raw(srv.port)
    a = Raw(srv.port, timeout=30)
    try:
        c.cmd("CONFIG", "SET", "appendonly", "yes")
        _wait_rewrite(c)
        c.cmd("CONFIG", "SET", "lua-time-limit", "1")
        aofdir = os.path.join(d, "appendonlydir")
        incr = [n for n in os.listdir(aofdir) if ".incr." in n][0]
        with open(os.path.join(aofdir, incr), "wb") as f:
            f.write(encode_command(["SELECT", "9"]))
            f.write(encode_command(["EVAL", SLOW_SCRIPT, "1", "x"]))
        a.send(encode_command(["DEBUG", "LOADAOF"]))
        seen = None
        deadline = time.time() + 5
        while time.time() < deadline:
            r = c.cmd("PING")
            if r != b"+PONG\r\n":
                seen = r
                break
        out = [seen, a.read_reply(), c.cmd("SELECT", "9"), c.cmd("GET", "x")]
        with open(os.path.join(d, "server.log"), "rb") as f:
            out.append(b"Slow script detected: still in execution after" in f.read())
        return out
    finally:
        a.close()
        c.close()


def test_slow_script_in_aof_serves_clients_while_loading(tmp_path):
    (tmp_path / "ours").mkdir()
    (tmp_path / "real").mkdir()
    results = []
    for start, d in ((start_redislet, "ours"), (start_real_redis, "real")):
        srv = start(tmp_path / d, "--aof-use-rdb-preamble", "no")
        try:
            results.append(_slow_script_load(srv, str(tmp_path / d)))
        finally:
            srv.stop()
    assert results[0] == [b"-LOADING Redis is loading the dataset in memory\r\n", b"+OK\r\n",
                          b"+OK\r\n", b"$1\r\ny\r\n", True]
    assert results[0] == results[1]
