"""bench/run.py works on this machine: a minimal run of every part (2 tests, -n 2000,
1 round, a few keys and idle connections) against real Redis and redislet."""
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.skipif(
    not (shutil.which("redis-server") and shutil.which("redis-benchmark")),
    reason="needs Debian's redis-server and redis-tools (redis-benchmark)")


def test_bench_run_minimal(tmp_path):
    out_json = tmp_path / "results.json"
    out_svg = tmp_path / "ratios.svg"
    cmd = [sys.executable, os.path.join(ROOT, "bench", "run.py"), "--tests", "set,xadd",
           "--pipeline", "1,16", "-n", "2000", "--rounds", "1", "--memory-keys", "2000",
           "--idle-conns", "100", "--json", str(out_json), "--svg", str(out_svg)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    assert res.returncode == 0, res.stderr[-3000:]
    assert "targets met" in res.stdout
    data = json.loads(out_json.read_text())
    for p in ("1", "16"):
        for t in ("set", "xadd"):
            e = data["throughput"][p][t]
            assert e["redis_rps"] > 0 and e["redislet_rps"] > 0 and e["ratio"] > 0
            assert e["redislet"][0]["p99_ms"] > 0
    assert data["throughput"]["1"]["xadd"]["redis"][0]["row"].startswith("XADD")
    assert data["memory"]["redis"]["growth_kb"] >= 0 and "ratio" in data["memory"]
    assert data["idle"]["redislet"]["connected_clients_seen"] >= 101
    assert data["machine"]["nproc"] >= 1 and data["machine"]["python"]
    labels = {(r["group"].split(" (")[0], r["label"]) for r in data["targets"]}
    assert ("throughput -P 1", "set") in labels and ("p99 latency -P 1", "xadd") in labels
    assert all(r["status"] in ("PASS", "FAIL", "info") for r in data["targets"])
    ex = data["extras"]     # replica, EVALSHA, PUBLISH and RDB against Redis in the same run
    for kind in ("redislet", "redis"):
        assert ex["replica"][kind]["with"] > 0 and ex["replica"][kind]["without"] > 0
    assert ex["evalsha"]["redislet"] > 0 and ex["evalsha"]["redis"] > 0
    assert ex["publish"]["redislet"] > 0 and ex["publish"]["redis"] > 0
    for name in ("strings", "mixed"):
        for op in ("save", "load"):
            assert ex["rdb"][name][op]["ratio"] > 0
    assert ("EVALSHA -P 1", "evalsha") in labels
    root = ET.fromstring(out_svg.read_text())
    assert root.tag.endswith("svg") and len(root) > 10
