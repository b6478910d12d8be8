"""oom-score-adj: the server writes /proc/<pid>/oom_score_adj like setOOMScoreAdj (master /
replica class, relative to the score from before, restored on 'no', absolute mode) and its
fork children take the background class. Compared step by step with a real redis-server."""
import os
import sys
import time

import pytest

from conftest import Raw, start_real_redis, start_redislet

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="/proc/<pid>/oom_score_adj is Linux only")


def _score(pid):
    with open("/proc/%d/oom_score_adj" % pid) as f:
        return int(f.read())


def _set_score(pid, v):
    with open("/proc/%d/oom_score_adj" % pid, "w") as f:
        f.write("%d\n" % v)


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


def _scenario(srv):
    pid = srv.proc.pid
    c = Raw(srv.port)
    seen = []
    try:
        _set_score(pid, 5)                      # the base the server finds
        c.cmd("CONFIG", "SET", "oom-score-adj-values", "10 20 30")
        seen.append(_score(pid))                # disabled: untouched
        seen.append(c.cmd("CONFIG", "SET", "oom-score-adj", "yes"))
        seen.append(_score(pid))                # 5 + 10
        c.cmd("CONFIG", "SET", "oom-score-adj-values", "15 20 30")
        seen.append(_score(pid))
        c.cmd("REPLICAOF", "localhost", "1")
        seen.append(_score(pid))                # replica class
        c.cmd("REPLICAOF", "NO", "ONE")
        seen.append(_score(pid))
        c.cmd("SET", "k", "v")
        c.cmd("CONFIG", "SET", "rdb-key-save-delay", "1000000")
        seen.append(c.cmd("BGSAVE"))
        deadline = time.time() + 10
        child = None
        while time.time() < deadline:
            kids = _children(pid)
            if kids and _score(kids[0]) == 35:
                child = _score(kids[0])
                break
            time.sleep(0.02)
        seen.append(child)                      # background class, relative: 5 + 30
        c.cmd("CONFIG", "SET", "rdb-key-save-delay", "0")
        for k in _children(pid):
            os.kill(k, 9)
        seen.append(c.cmd("CONFIG", "SET", "oom-score-adj", "no"))
        seen.append(_score(pid))                # restored
        c.cmd("CONFIG", "SET", "oom-score-adj-values", "9 9 9", "oom-score-adj", "absolute")
        seen.append(_score(pid))
        c.cmd("CONFIG", "SET", "oom-score-adj", "relative")
        seen.append(_score(pid))
        c.cmd("CONFIG", "SET", "oom-score-adj-values", "2000 2000 2000")
        seen.append(_score(pid))                # clamped to 1000
        seen.append(c.cmd("CONFIG", "GET", "oom-score-adj"))
        c.cmd("CONFIG", "SET", "oom-score-adj", "no")
        seen.append(_score(pid))
    finally:
        c.close()
    return seen


def test_oom_score_adj_like_redis(tmp_path):
    (tmp_path / "ours").mkdir()
    (tmp_path / "real").mkdir()
    ours = start_redislet(tmp_path / "ours")
    try:
        mine = _scenario(ours)
    finally:
        ours.stop()
    real = start_real_redis(tmp_path / "real")
    try:
        theirs = _scenario(real)
    finally:
        real.stop()
    assert mine == theirs
    assert mine == [5, b"+OK\r\n", 15, 20, 25, 20, b"+Background saving started\r\n", 35,
                    b"+OK\r\n", 5, 9, 14, 1000,
                    b"*2\r\n$13\r\noom-score-adj\r\n$3\r\nyes\r\n", 5]
