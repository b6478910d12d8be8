#!/usr/bin/env python3
"""Write throughput of a master with 0, 1 and 2 replicas attached: redislet vs real Redis.

    python bench/replication_bench.py [-n 200000] [-P 16] [-c 50] [-t set,lpush] [--rounds 1]

For each server kind (redislet, redis-server) and replica count, starts a master and its
replicas (same kind, 127.0.0.1, no persistence), waits for the initial sync, runs
redis-benchmark against the master, then measures how long the replicas need to catch up
with the master's replication offset after the load ends. Prints requests per second and
the catch-up time. These machines are noisy: compare ratios, not absolute numbers.
"""
import argparse
import csv
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cmd(port, *args):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        s.sendall(b"".join(out))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if data[:1] in b"+-:" and data.endswith(b"\r\n"):
                break
            if data[:1] == b"$":
                nl = data.find(b"\r\n")
                if nl > 0 and len(data) >= nl + 2 + int(data[1:nl]) + 2:
                    break
        return data


def info(port):
    text = cmd(port, "INFO", "replication").decode("utf-8", "replace")
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def start(kind, port, workdir, *extra):
    if kind == "redis":
        argv = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"]
    else:
        argv = [sys.executable, "-m", "redislet", "--port", str(port), "--save", ""]
    argv += ["--bind", "127.0.0.1", "--repl-diskless-sync-delay", "0", *extra]
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.Popen(argv, cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            if b"PONG" in cmd(port, "PING"):
                return p
        except OSError:
            time.sleep(0.1)
    p.kill()
    sys.exit("%s on %d did not start" % (kind, port))


def wait_synced(master, replicas, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        mo = int(info(master)["master_repl_offset"])
        if all(info(r).get("master_link_status") == "up"
               and int(info(r).get("slave_repl_offset", -1)) >= mo for r in replicas):
            return time.time() - t0
        time.sleep(0.01)
    return float("nan")


def run_case(kind, nrep, test, args):
    work = tempfile.mkdtemp(prefix="replbench-")
    procs = []
    try:
        mport = free_port()
        procs.append(start(kind, mport, work))
        rports = []
        for i in range(nrep):
            d = os.path.join(work, "r%d" % i)
            os.mkdir(d)
            rp = free_port()
            procs.append(start(kind, rp, d, "--replicaof", "127.0.0.1", str(mport)))
            rports.append(rp)
        wait_synced(mport, rports)
        out = subprocess.run(
            ["redis-benchmark", "-p", str(mport), "-q", "--csv", "-t", test,
             "-n", str(args.n), "-P", str(args.P), "-c", str(args.c), "-r", "100000"],
            capture_output=True, text=True, timeout=600).stdout
        rps = 0.0
        for row in csv.reader(io.StringIO(out)):
            if row and row[0] != "test":
                rps = float(row[1])
        lag = wait_synced(mport, rports) if rports else 0.0
        return rps, lag
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=200000)
    ap.add_argument("-P", type=int, default=16)
    ap.add_argument("-c", type=int, default=50)
    ap.add_argument("-t", default="set")
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    if shutil.which("redis-benchmark") is None or shutil.which("redis-server") is None:
        sys.exit("needs redis-server and redis-benchmark (Debian redis-server, redis-tools)")
    print("%-8s %-9s %9s %14s %14s %8s %12s" % ("test", "replicas", "", "redislet rps",
                                                "redis rps", "ratio", "catch-up s"))
    for test in args.t.split(","):
        for nrep in (0, 1, 2):
            res = {"redislet": [], "redis": []}
            for _ in range(args.rounds):
                for kind in ("redislet", "redis"):
                    res[kind].append(run_case(kind, nrep, test, args))
            a = max(r[0] for r in res["redislet"])
            b = max(r[0] for r in res["redis"])
            lag_a = min(r[1] for r in res["redislet"])
            lag_b = min(r[1] for r in res["redis"])
            print("%-8s %-9d %9s %14.0f %14.0f %8.2f %5.2f / %4.2f" % (
                test, nrep, "", a, b, a / b if b else 0, lag_a, lag_b))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
