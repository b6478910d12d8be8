"""DEBUG HTSTATS: while a child process exists the keyspace table does not grow (resize is
avoided below dict_force_resize_ratio); once the child is gone the next add grows it.
Table sizes compared with a real redis-server (the chain statistics differ by hash)."""
import os
import re
import signal
import sys
import time

import pytest

from conftest import Raw, start_real_redis, start_redislet

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")


def _children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(d))
    return out


def _sizes(c):
    text = c.cmd("DEBUG", "HTSTATS", "9").decode()
    main = text.split("[Expires HT]")[0]
    return sorted(int(x) for x in re.findall(r"table size: (\d+)", main))


def _wait(c, field, value):
    deadline = time.time() + 10
    while time.time() < deadline:
        if ("%s:%s" % (field, value)).encode() in c.cmd("INFO", "persistence"):
            return
        time.sleep(0.05)
    raise AssertionError("%s never became %s" % (field, value))


def _scenario(srv):
    c = Raw(srv.port)
    try:
        c.cmd("SELECT", "9")
        c.cmd("CONFIG", "SET", "rdb-key-save-delay", "1000000")
        c.cmd("DEBUG", "POPULATE", "4096", "", "1")
        out = [_sizes(c)]
        c.cmd("BGSAVE")
        _wait(c, "rdb_bgsave_in_progress", 1)
        c.cmd("MSET", "k1", "v1", "k2", "v2")
        out.append(_sizes(c))                   # no resize while the child exists
        for pid in _children(srv.proc.pid):
            os.kill(pid, signal.SIGKILL)
        _wait(c, "rdb_bgsave_in_progress", 0)
        c.cmd("CONFIG", "SET", "rdb-key-save-delay", "0")
        time.sleep(0.2)
        c.cmd("SET", "k3", "v3")
        out.append(8192 in _sizes(c))           # grown (maybe still rehashing in Redis)
        return out
    finally:
        c.close()


def test_no_resize_while_child_exists(tmp_path):
    (tmp_path / "ours").mkdir()
    (tmp_path / "real").mkdir()
    ours = start_redislet(tmp_path / "ours")
    try:
        mine = _scenario(ours)
    finally:
        ours.stop()
    assert mine == [[4096], [4096], True]
    real = start_real_redis(tmp_path / "real")
    try:
        theirs = _scenario(real)
    finally:
        real.stop()
    assert mine == theirs
