#!/usr/bin/env python3
"""redislet against real Redis, side by side, for the performance targets (issue 18).

    python bench/run.py                      # everything (4-8 minutes on 2 cores)
    python bench/run.py --quick              # -n 10000, 1 round, 100k keys, 2000 idle conns
    python bench/run.py --tests set,get --pipeline 16 -n 20000 --rounds 1 --skip-memory --skip-idle

Starts Debian's `redis-server` and redislet (`python -m redislet`, this checkout) on free
ports of 127.0.0.1 and measures with `redis-benchmark` (Debian package redis-tools):

  throughput  every test of --tests at every -P of --pipeline, -c 50 -n N -r 100000; the two
              servers alternate run by run (the order flips each round); the ratio
              redislet/redis is taken per round and the median of the rounds is reported.
  latency     p99_latency_ms of the -P 1 runs above: ratio redislet/redis (lower is better).
  memory      fresh servers; RSS growth for K string keys with 16-byte values (ratio).
  idle        `set -P 1` with and without 10,000 idle client connections open, per server:
              ratio with/without (the cost of idle connections).
  extras      replication_bench.py: `set -P 16` on a master with one replica attached /
              the same server without (per server); evalsha_bench.py: EVALSHA of an INCR
              script, -P 1; pubsub_bench.py: PUBLISH to one subscriber, pipelined 50;
              rdb_bench.py: SAVE and load times (1M string keys, 10k mixed containers).

Prints a table with PASS/FAIL against each target, writes a JSON of every figure
(bench/results-latest.json) and a bar chart of the ratios with their targets
(docs/perf-ratios.svg). The machine is shared and noisy: quote ratios, not absolute rates.
Exit status 0 unless something broke (--strict: 1 when a target fails).
"""
import argparse
import csv
import datetime
import io
import json
import math
import os
import platform
import resource
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEFAULT_TESTS = "set,get,incr,lpush,lpop,sadd,hset,zadd,xadd,lrange_100,mset"
# tests redis-benchmark's -t does not have: run as a custom command (the CSV row is the
# command line, e.g. "XADD mystream * myfield myvalue")
CUSTOM = {"xadd": ["XADD", "mystream", "*", "myfield", "myvalue"]}

# targets of issue 18: (pipeline, test) -> minimum ratio redislet/redis
NINE = "set,get,incr,lpush,lpop,sadd,hset,zadd,xadd".split(",")
THROUGHPUT_TARGETS = {}
for _t in NINE:
    THROUGHPUT_TARGETS[(1, _t)] = 1.0
for _t in DEFAULT_TESTS.split(","):
    THROUGHPUT_TARGETS[(16, _t)] = 0.5     # "no test under 0.5x"
GEOMEAN_PIPELINE = 16
GEOMEAN_TESTS = DEFAULT_TESTS.split(",")      # the eleven
GEOMEAN_TARGET = 0.7
LATENCY_TARGET = 1.5       # p99 at -P 1 of the nine: redislet/redis at most
MEMORY_TARGET = 1.5        # RSS growth: redislet/redis at most
IDLE_TARGET = 0.9          # throughput with idle connections / without: at least (issue 11)
REPLICA_TARGET = 0.8       # set rps with one replica attached / without, same server
EVALSHA_TARGET = 0.7
PUBLISH_TARGET = 0.7
RDB_STRINGS_TARGET = 1.5   # save and load time of 1M string keys: redislet/redis at most
RDB_MIXED_TARGET = 3.0     # the same for 10k mixed containers


# ---------------------------------------------------------------------------------------
# helpers

def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile():
    """Soft RLIMIT_NOFILE up to the hard limit (for this process and, via preexec, the
    servers): 10,000 idle connections need 10,000 descriptors on both sides."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft == resource.RLIM_INFINITY or soft >= want:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        return want
    except (ValueError, OSError):
        return soft


def cmd_bytes(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def read_reply(f):
    """One RESP2 reply from a buffered socket file (enough for INFO / DBSIZE / OK)."""
    line = f.readline()
    if not line:
        raise ConnectionError("connection closed")
    t = line[:1]
    if t == b"$":
        n = int(line[1:])
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if t == b":":
        return int(line[1:])
    if t == b"-":
        raise RuntimeError(line[1:].strip().decode())
    if t == b"*":
        return [read_reply(f) for _ in range(int(line[1:]))]
    return line[1:].rstrip(b"\r\n")


class Control:
    """A plain control connection (INFO, FLUSHALL, DBSIZE)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.f = self.sock.makefile("rb")

    def call(self, *args):
        self.sock.sendall(cmd_bytes(*args))
        return read_reply(self.f)

    def info(self, section):
        text = self.call("INFO", section).decode()
        out = {}
        for line in text.splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def close(self):
        self.f.close()
        self.sock.close()


def proc_cpu(pid):
    """(user, system) CPU seconds of a process, from /proc/pid/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def proc_cpu_ns(pid):
    """Total CPU time of a process in ns (all threads), from /proc/PID/task/*/schedstat:
    exact, where /proc/PID/stat counts 10 ms clock ticks. None when unavailable."""
    total = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def machine_busy():
    """(busy, total) CPU seconds of the whole machine, from /proc/stat; busy leaves out
    irq/softirq time (loopback TCP work of the measured pair, not charged to processes)."""
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    total = sum(vals[:8])
    busy = total - vals[3] - vals[4] - vals[5] - vals[6]
    return busy / tick, total / tick


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class Server:
    """A server subprocess on a free port of 127.0.0.1 (started with a high NOFILE limit)."""

    def __init__(self, name, argv_for_port, workdir, env=None):
        self.name = name
        self.workdir = workdir
        for attempt in range(5):
            self.port = free_port()
            argv = argv_for_port(self.port)
            self.logpath = os.path.join(workdir, "%s-%d.log" % (name, self.port))
            self.logf = open(self.logpath, "wb")
            self.proc = subprocess.Popen(argv, cwd=workdir, stdout=self.logf,
                                         stderr=subprocess.STDOUT, env=env,
                                         preexec_fn=raise_nofile)
            if self._wait_ping():
                self.argv = argv
                return
            self.stop()
        raise RuntimeError("%s did not start; see %s" % (name, self.logpath))

    def _wait_ping(self, timeout=30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False          # e.g. the port was taken meanwhile: retry
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"*1\r\n$4\r\nPING\r\n")
                    if b"PONG" in s.recv(64):
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def check_alive(self):
        if self.proc.poll() is not None:
            with open(self.logpath, "rb") as f:
                tail = f.read()[-2000:].decode(errors="replace")
            raise RuntimeError("%s exited with %s:\n%s" % (self.name, self.proc.returncode, tail))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


def server_flags(port, maxclients):
    return ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--maxclients", str(maxclients), "--daemonize", "no"]


def start_pair(args, workdir):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    maxclients = args.idle_conns + 1000
    redislet_cmd = shlex.split(args.server_cmd) if args.server_cmd else [sys.executable, "-m", "redislet"]
    real = Server("redis", lambda p: [args.redis_server] + server_flags(p, maxclients), workdir)
    try:
        mine = Server("redislet", lambda p: redislet_cmd + server_flags(p, maxclients), workdir, env=env)
    except BaseException:
        real.stop()
        raise
    return {"redis": real, "redislet": mine}


def stop_pair(pair):
    for s in pair.values():
        s.stop()


# ---------------------------------------------------------------------------------------
# redis-benchmark

def bench_once(args, server, test, pipeline, n):
    """One redis-benchmark run; returns the CSV row of the test as a dict, plus the CPU
    used by the server (us per request, user and system) and by other processes."""
    cmd = [args.redis_benchmark, "-h", "127.0.0.1", "-p", str(server.port), "-q", "--csv",
           "-c", str(args.c), "-n", str(n), "-P", str(pipeline), "-r", "100000"]
    if test in CUSTOM:
        cmd += CUSTOM[test]
        want = " ".join(CUSTOM[test]).upper()
    else:
        cmd += ["-t", test]
        want = test.upper()
    u0, s0 = proc_cpu(server.proc.pid)
    ns0 = proc_cpu_ns(server.proc.pid)
    b0, t0 = machine_busy()
    k0 = children_cpu()
    w0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    wall = time.perf_counter() - w0
    k1 = children_cpu()
    b1, t1 = machine_busy()
    u1, s1 = proc_cpu(server.proc.pid)
    ns1 = proc_cpu_ns(server.proc.pid)
    server.check_alive()
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    # lrange_* prints an LPUSH row first: the test's own row is the last one with its name
    mine = [r for r in rows if r.get("test", "").upper().startswith(want)]
    if not mine:
        raise RuntimeError("no %r row from %s\nstdout: %s\nstderr: %s"
                           % (want, " ".join(cmd), res.stdout, res.stderr[-2000:]))
    row = mine[-1]
    # requests the server handled during this run (lrange_* runs an LPUSH pass first)
    nreq = n * len(rows)
    server_cpu = (u1 - u0) + (s1 - s0)
    if ns0 is not None and ns1 is not None:
        server_cpu = (ns1 - ns0) / 1e9        # the precise total; the split stays in ticks
    other = (b1 - b0) - server_cpu - (k1 - k0)
    return {
        "row": row["test"],
        "rps": float(row["rps"]),
        "avg_ms": float(row["avg_latency_ms"]),
        "p50_ms": float(row["p50_latency_ms"]),
        "p99_ms": float(row["p99_latency_ms"]),
        "max_ms": float(row["max_latency_ms"]),
        "server_cpu_us": round(server_cpu / nreq * 1e6, 3),     # user+system
        "server_user_us": round((u1 - u0) / nreq * 1e6, 3),
        "server_sys_us": round((s1 - s0) / nreq * 1e6, 3),
        "server_cpu_util": round(server_cpu / wall, 3) if wall else 0.0,
        "client_cpu_us": round((k1 - k0) / nreq * 1e6, 3),      # redis-benchmark's own
        "other_load_cores": round(max(other, 0.0) / wall, 2) if wall else 0.0,
        "wall_s": round(wall, 3),
    }


def cpu_us(runs):
    return round(statistics.median(r["server_cpu_us"] for r in runs), 3)


def flush(pair):
    for s in pair.values():
        c = Control(s.port)
        c.call("FLUSHALL")
        c.close()


def run_throughput(args, pair, results):
    names = ("redis", "redislet")
    for pipeline in args.pipelines:
        flush(pair)
        per_test = results["throughput"].setdefault(str(pipeline), {})
        for test in args.tests:
            runs = {"redis": [], "redislet": []}
            for rnd in range(args.rounds):
                order = names if rnd % 2 == 0 else names[::-1]
                for name in order:
                    runs[name].append(bench_once(args, pair[name], test, pipeline, args.n))
            ratios = [b["rps"] / a["rps"] if a["rps"] else 0.0
                      for a, b in zip(runs["redis"], runs["redislet"])]
            p99 = [b["p99_ms"] / a["p99_ms"] if a["p99_ms"] else float("inf")
                   for a, b in zip(runs["redis"], runs["redislet"])]
            entry = {
                "redis": runs["redis"], "redislet": runs["redislet"],
                "ratios": [round(x, 4) for x in ratios],
                "ratio": round(statistics.median(ratios), 4),
                "redis_rps": statistics.median(r["rps"] for r in runs["redis"]),
                "redislet_rps": statistics.median(r["rps"] for r in runs["redislet"]),
                "p99_ratios": [round(x, 4) for x in p99],
                "p99_ratio": round(statistics.median(p99), 4),
                "redis_p99_ms": statistics.median(r["p99_ms"] for r in runs["redis"]),
                "redislet_p99_ms": statistics.median(r["p99_ms"] for r in runs["redislet"]),
                # server CPU per request (user+system), less sensitive to a busy machine
                "redis_cpu_us": cpu_us(runs["redis"]),
                "redislet_cpu_us": cpu_us(runs["redislet"]),
                "other_load_cores": statistics.median(
                    r["other_load_cores"] for r in runs["redis"] + runs["redislet"]),
            }
            entry["cpu_ratio"] = round(entry["redis_cpu_us"] / entry["redislet_cpu_us"], 4) \
                if entry["redislet_cpu_us"] else None
            per_test[test] = entry
            log("  -P %-2d %-10s redis %9.0f rps  redislet %9.0f rps  ratio %.2f  "
                "(p99 %.2f / %.2f ms; redislet CPU %.1f+%.1f us/req; other load %.1f cores)"
                % (pipeline, test, entry["redis_rps"], entry["redislet_rps"], entry["ratio"],
                   entry["redis_p99_ms"], entry["redislet_p99_ms"],
                   statistics.median(r["server_user_us"] for r in runs["redislet"]),
                   statistics.median(r["server_sys_us"] for r in runs["redislet"]),
                   statistics.median(r["other_load_cores"] for r in runs["redislet"] + runs["redis"])))


# ---------------------------------------------------------------------------------------
# extras: the other benchmarks of bench/, each against real Redis

def run_extras(args, results):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import evalsha_bench
    import pubsub_bench
    import replication_bench
    ex = results.setdefault("extras", {})
    n = args.n
    rep = {}
    for kind in ("redislet", "redis"):
        opts = argparse.Namespace(n=2 * n, P=16, c=args.c)
        with_, without = [], []
        for _ in range(args.rounds):
            without.append(replication_bench.run_case(kind, 0, "set", opts)[0])
            with_.append(replication_bench.run_case(kind, 1, "set", opts)[0])
        w, wo = statistics.median(with_), statistics.median(without)
        rep[kind] = {"with": w, "without": wo, "ratio": round(w / wo, 4) if wo else 0.0}
        log("  replica %-8s %9.0f rps with one replica, %9.0f without" % (kind, w, wo))
    ex["replica"] = rep
    ev = [evalsha_bench.measure(n, args.c, 1) for _ in range(args.rounds)]
    e = {k: statistics.median(r[k] for r in ev) for k in ("redis", "redislet")}
    e["ratio"] = round(statistics.median(r["redislet"] / r["redis"] for r in ev), 4)
    ex["evalsha"] = e
    log("  evalsha  redis %9.0f rps  redislet %9.0f rps" % (e["redis"], e["redislet"]))
    # (n messages: a fifth of that, 50 ms a run, measured mostly noise)
    pubs = [pubsub_bench.measure((1,), max(n, 2000), 50, 16, 1, verbose=False)
            for _ in range(args.rounds)]
    e = {k: statistics.median(r[k, 1]["pub_rate"] for r in pubs) for k in ("redis", "redislet")}
    e["ratio"] = round(statistics.median(r["redislet", 1]["pub_rate"] / r["redis", 1]["pub_rate"]
                                         for r in pubs), 4)
    ex["publish"] = e
    log("  publish  redis %9.0f /s   redislet %9.0f /s" % (e["redis"], e["redislet"]))
    ex["rdb"] = run_rdb(args)


def run_rdb(args):
    """rdb_bench.py's SAVE and load (start-up with the file) rounds: --memory-keys string
    keys and a hundredth as many mixed containers (1,000,000 and 10,000 by default)."""
    import rdb_bench
    out = {}
    base = tempfile.mkdtemp(prefix="redislet-rdb-")
    try:
        for name, kind, n, make in (
                ("strings", "strings", args.memory_keys, rdb_bench.strings_cmds),
                ("mixed", "mix", max(args.memory_keys // 100, 100), rdb_bench.mix_cmds)):
            res = rdb_bench.run_dataset(kind, make(n), rdb_bench.sample_keys(kind, n), base,
                                        args.rounds, time.time())
            a, b = res["redislet"], res["redis"]
            out[name] = {"keys": n}
            for op, field in (("save", "save_s"), ("load", "load_ping_s")):
                out[name][op] = {"ratio": round(rdb_bench.ratio_of(a, b, field), 4),
                                 "redislet_s": rdb_bench.median(a[field]),
                                 "redis_s": rdb_bench.median(b[field])}
                log("  rdb %-7s %s: redislet %.3f s, redis %.3f s" % (
                    name, op, out[name][op]["redislet_s"], out[name][op]["redis_s"]))
            ok = all(res["cross_" + k].get("ok") for k in ("redis", "redislet"))
            out[name]["cross_load_ok"] = ok
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return out


# ---------------------------------------------------------------------------------------
# memory

def load_keys(port, count, value=b"v" * 16, batch=1000):
    with socket.create_connection(("127.0.0.1", port)) as s:
        for start in range(0, count, batch):
            end = min(start + batch, count)
            parts = []
            for i in range(start, end):
                k = b"key:%d" % i
                parts.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
                             % (len(k), k, len(value), value))
            s.sendall(b"".join(parts))
            need = (end - start) * 5          # "+OK\r\n"
            got = 0
            while got < need:
                chunk = s.recv(1 << 16)
                if not chunk:
                    raise ConnectionError("connection closed while loading keys")
                if chunk[:1] == b"-":
                    raise RuntimeError(chunk[:200].decode(errors="replace"))
                got += len(chunk)


def run_memory(args, workdir, results):
    pair = start_pair(args, workdir)
    try:
        time.sleep(0.5)
        out = {"keys": args.memory_keys, "value_bytes": 16}
        for name, s in pair.items():
            base = rss_kb(s.proc.pid)
            t = time.perf_counter()
            load_keys(s.port, args.memory_keys)
            dt = time.perf_counter() - t
            time.sleep(0.5)
            after = rss_kb(s.proc.pid)
            c = Control(s.port)
            dbsize = c.call("DBSIZE")
            used = c.info("memory").get("used_memory")
            c.close()
            if dbsize != args.memory_keys:
                raise RuntimeError("%s holds %s keys, expected %d" % (name, dbsize, args.memory_keys))
            out[name] = {"rss_before_kb": base, "rss_after_kb": after,
                         "growth_kb": after - base, "bytes_per_key": round((after - base) * 1024 / args.memory_keys, 1),
                         "used_memory": int(used) if used and used.isdigit() else used,
                         "load_s": round(dt, 2)}
            log("  memory %-8s +%.1f MiB (%.0f bytes/key, loaded in %.1f s)"
                % (name, (after - base) / 1024, (after - base) * 1024 / args.memory_keys, dt))
        out["ratio"] = round(out["redislet"]["growth_kb"] / max(out["redis"]["growth_kb"], 1), 4)
        results["memory"] = out
    finally:
        stop_pair(pair)


# ---------------------------------------------------------------------------------------
# idle connections

def open_idle(server, count, batch=64):
    """Open `count` idle connections and wait until the server has accepted them all.
    Batches of 64 wait for the server to accept them: a burst beyond the listen backlog
    drops SYNs (1 s retransmit each), which measures connect storms, not idle cost.
    SO_LINGER 0: closing sends RST, so no TIME_WAIT pile-up across rounds."""
    ctl = Control(server.port)
    base = int(ctl.info("clients")["connected_clients"])
    socks = []
    linger = b"\x01\x00\x00\x00\x00\x00\x00\x00"   # struct linger {1, 0}
    try:
        while len(socks) < count:
            for _ in range(min(batch, count - len(socks))):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                s.settimeout(10)
                s.connect(("127.0.0.1", server.port))
                socks.append(s)
            deadline = time.time() + 30
            while int(ctl.info("clients")["connected_clients"]) < base + len(socks):
                if time.time() > deadline:
                    raise RuntimeError("%s accepted too few connections" % server.name)
                time.sleep(0.002)
        connected = int(ctl.info("clients")["connected_clients"])
    except BaseException:
        close_idle(socks)
        raise
    finally:
        ctl.close()
    return socks, connected


def close_idle(socks):
    for s in socks:
        s.close()
    socks.clear()


def run_idle(args, pair, results):
    out = {"idle_connections": args.idle_conns, "test": "set", "pipeline": 1}
    names = ("redis", "redislet")
    runs = {name: {"without": [], "with": []} for name in names}
    connected = {}
    for rnd in range(args.rounds):
        order = names if rnd % 2 == 0 else names[::-1]
        for name in order:
            s = pair[name]
            runs[name]["without"].append(bench_once(args, s, "set", 1, args.n))
            rss_before = rss_kb(s.proc.pid)
            t = time.perf_counter()
            socks, connected[name] = open_idle(s, args.idle_conns)
            opened = time.perf_counter() - t
            try:
                time.sleep(0.2)
                r = bench_once(args, s, "set", 1, args.n)
                r["open_s"] = round(opened, 2)
                r["rss_kb_before_idle"] = rss_before
                r["rss_kb_with_idle"] = rss_kb(s.proc.pid)
                runs[name]["with"].append(r)
            finally:
                close_idle(socks)
            deadline = time.time() + 30        # let the server notice the closes
            ctl = Control(s.port)
            while int(ctl.info("clients")["connected_clients"]) > 1 and time.time() < deadline:
                time.sleep(0.05)
            ctl.close()
    for name in names:
        w, wo = runs[name]["with"], runs[name]["without"]
        ratios = [a["rps"] / b["rps"] if b["rps"] else 0.0 for a, b in zip(w, wo)]
        out[name] = {"without": wo, "with": w, "ratios": [round(x, 4) for x in ratios],
                     "ratio": round(statistics.median(ratios), 4),
                     "rps_without": statistics.median(r["rps"] for r in wo),
                     "rps_with": statistics.median(r["rps"] for r in w),
                     "cpu_us_without": cpu_us(wo), "cpu_us_with": cpu_us(w),
                     "connected_clients_seen": connected.get(name)}
        log("  idle   %-8s set -P 1: %9.0f rps without, %9.0f rps with %d idle conns: ratio %.2f"
            % (name, out[name]["rps_without"], out[name]["rps_with"], args.idle_conns,
               out[name]["ratio"]))
    results["idle"] = out


# ---------------------------------------------------------------------------------------
# targets, table, chart

def evaluate(args, results):
    """The list of target checks: dicts with group, label, value, target, op, status."""
    rows = []

    def add(group, label, value, target, op, detail="", cpu_ratio=None):
        if target is None or value is None:
            status = "info"
        elif op == ">=":
            status = "PASS" if value >= target else "FAIL"
        else:
            status = "PASS" if value <= target else "FAIL"
        rows.append({"group": group, "label": label, "value": value, "target": target,
                     "op": op, "status": status, "detail": detail, "cpu_ratio": cpu_ratio})

    tp = results.get("throughput", {})
    for p in args.pipelines:
        tests = tp.get(str(p), {})
        for t, e in tests.items():
            add("throughput -P %d (redislet/redis rps)" % p, t, e["ratio"],
                THROUGHPUT_TARGETS.get((p, t)), ">=",
                "%.0f vs %.0f rps; server CPU %.1f vs %.1f us/req"
                % (e["redislet_rps"], e["redis_rps"], e["redislet_cpu_us"], e["redis_cpu_us"]),
                e.get("cpu_ratio"))
        if tests:
            measured = [t for t in GEOMEAN_TESTS if t in tests]
            gm = statistics.geometric_mean([max(tests[t]["ratio"], 1e-9) for t in measured]) if measured else None
            complete = len(measured) == len(GEOMEAN_TESTS)
            if p == GEOMEAN_PIPELINE:
                cpus = [tests[t]["cpu_ratio"] for t in measured if tests[t].get("cpu_ratio")]
                add("throughput -P %d (redislet/redis rps)" % p,
                    "geomean(%d)" % len(measured), round(gm, 4) if gm else None,
                    GEOMEAN_TARGET if complete else None, ">=",
                    "the eleven tests" if complete else "partial: target needs all eleven",
                    round(statistics.geometric_mean(cpus), 4) if len(cpus) == len(measured) else None)
    if "1" in tp:
        for t, e in tp["1"].items():
            add("p99 latency -P 1 (redislet/redis, lower is better)", t, e["p99_ratio"],
                LATENCY_TARGET if t in NINE else None, "<=",
                "%.2f vs %.2f ms" % (e["redislet_p99_ms"], e["redis_p99_ms"]))
    mem = results.get("memory")
    if mem:
        add("memory (RSS growth redislet/redis, lower is better)",
            "%dk keys" % (mem["keys"] // 1000) if mem["keys"] >= 1000 else "%d keys" % mem["keys"],
            mem["ratio"], MEMORY_TARGET, "<=",
            "%.1f vs %.1f MiB" % (mem["redislet"]["growth_kb"] / 1024, mem["redis"]["growth_kb"] / 1024))
    idle = results.get("idle")
    if idle:
        g = "idle connections (set -P 1 rps with/without %d idle)" % idle["idle_connections"]
        add(g, "redislet", idle["redislet"]["ratio"], IDLE_TARGET, ">=",
            "%.0f vs %.0f rps; server CPU %.1f vs %.1f us/req"
            % (idle["redislet"]["rps_with"], idle["redislet"]["rps_without"],
               idle["redislet"]["cpu_us_with"], idle["redislet"]["cpu_us_without"]),
            idle_cpu_ratio(idle["redislet"]))
        add(g, "redis (ref)", idle["redis"]["ratio"], None, ">=",
            "%.0f vs %.0f rps; server CPU %.1f vs %.1f us/req"
            % (idle["redis"]["rps_with"], idle["redis"]["rps_without"],
               idle["redis"]["cpu_us_with"], idle["redis"]["cpu_us_without"]),
            idle_cpu_ratio(idle["redis"]))
    ex = results.get("extras", {})
    rep = ex.get("replica")
    if rep:
        g = "one replica attached (set -P 16 rps with/without, same server)"
        for kind in ("redislet", "redis"):
            e = rep[kind]
            add(g, kind if kind == "redislet" else "redis (ref)", e["ratio"],
                REPLICA_TARGET if kind == "redislet" else None, ">=",
                "%.0f vs %.0f rps" % (e["with"], e["without"]))
    for key, label, target in (("evalsha", "EVALSHA -P 1 (redislet/redis rps)", EVALSHA_TARGET),
                               ("publish", "PUBLISH, 1 subscriber, -P 50 (redislet/redis)",
                                PUBLISH_TARGET)):
        e = ex.get(key)
        if e:
            add(label, key, e["ratio"], target, ">=",
                "%.0f vs %.0f /s" % (e["redislet"], e["redis"]))
    rdb = ex.get("rdb")
    if rdb:
        g = "RDB time (redislet/redis, lower is better)"
        for name, target in (("strings", RDB_STRINGS_TARGET), ("mixed", RDB_MIXED_TARGET)):
            for op in ("save", "load"):
                e = rdb.get(name, {}).get(op)
                if e:
                    add(g, "%s %s" % (name, op), e["ratio"], target, "<=",
                        "%.2f vs %.2f s" % (e["redislet_s"], e["redis_s"]))
    return rows


def idle_cpu_ratio(e):
    return round(e["cpu_us_without"] / e["cpu_us_with"], 4) if e["cpu_us_with"] else None


def fmt(value, target=None):
    """Two decimals, or three where two would print the target itself (1.50 FAIL <= 1.50)."""
    text = "%.2f" % value
    if target is not None and text == "%.2f" % target and value != target:
        text = "%.3f" % value
    return text


def print_table(rows):
    """cpu: the same comparison made with server CPU time per request (Redis's / redislet's;
    for idle: without / with), which a busy machine disturbs much less than rates."""
    group = None
    print("%-12s %10s %8s  %-6s %5s  %s" % ("", "target", "ratio", "status", "cpu", "detail"))
    for r in rows:
        if r["group"] != group:
            group = r["group"]
            print("\n" + group)
        tgt = "%s %.2f" % (r["op"], r["target"]) if r["target"] is not None else "-"
        val = fmt(r["value"], r["target"]) if r["value"] is not None else "-"
        cpu = "%.2f" % r["cpu_ratio"] if r.get("cpu_ratio") else "-"
        print("  %-10s %10s %8s  %-6s %5s  %s" % (r["label"], tgt, val, r["status"], cpu, r["detail"]))
    n_pass = sum(r["status"] == "PASS" for r in rows)
    n_fail = sum(r["status"] == "FAIL" for r in rows)
    print("\n%d targets met, %d not met" % (n_pass, n_fail))


def esc(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def write_svg(path, rows, subtitle):
    """Horizontal bars (one per check), a tick at each bar's target, a line at 1.0."""
    label_w, bar_w, row_h, gap_h = 110, 520, 18, 26
    left = 16 + label_w
    vmax = max([2.0] + [r["value"] for r in rows if r["value"] is not None]
               + [r["target"] for r in rows if r["target"] is not None])
    vmax = min(4.0, math.ceil(vmax * 2) / 2)     # longer bars are clipped (value printed)
    scale = bar_w / vmax
    groups = []
    for r in rows:
        if not groups or groups[-1][0] != r["group"]:
            groups.append((r["group"], []))
        groups[-1][1].append(r)
    height = 64 + sum(gap_h + row_h * len(g[1]) for g in groups) + 56
    width = left + bar_w + 150
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="DejaVu Sans, Arial, sans-serif" font-size="11">' % (width, height, width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="16" y="22" font-size="15" font-weight="bold">redislet / Redis 7.0 ratios '
           '(issue 11 targets)</text>',
           '<text x="16" y="40" fill="#555">%s</text>' % esc(subtitle)]
    y = 64
    color = {"PASS": "#3a9d4a", "FAIL": "#d0473c", "info": "#8a8f98"}
    for name, items in groups:
        y += gap_h
        out.append('<text x="16" y="%d" font-weight="bold">%s</text>' % (y - 8, esc(name)))
        top = y
        for r in items:
            v = r["value"] or 0.0
            w = max(1.0, min(v, vmax) * scale)
            out.append('<text x="%d" y="%d" text-anchor="end">%s</text>'
                       % (left - 6, y + row_h - 6, esc(r["label"])))
            out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>'
                       % (left, y + 2, w, row_h - 4, color[r["status"]]))
            txt = fmt(v, r["target"])
            if r["target"] is not None:
                txt += "  (%s %.2f %s)" % (r["op"], r["target"], r["status"])
            tx_end = left + w
            if r["target"] is not None:
                tx_end = max(tx_end, left + r["target"] * scale)
            if r.get("cpu_ratio"):
                tx_end = max(tx_end, left + min(r["cpu_ratio"], vmax) * scale + 4)
            out.append('<text x="%.1f" y="%d" fill="#222">%s</text>'
                       % (tx_end + 6, y + row_h - 6, esc(txt)))
            if r.get("cpu_ratio"):
                cx = left + min(r["cpu_ratio"], vmax) * scale
                out.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="white" stroke="black" '
                           'stroke-width="1.2"/>' % (cx, y + row_h / 2))
            if r["target"] is not None:
                tx = left + r["target"] * scale
                out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black" '
                           'stroke-width="2"/>' % (tx, y, tx, y + row_h))
            y += row_h
        x1 = left + scale
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#444" stroke-dasharray="3,3"/>'
                   % (x1, top - 2, x1, y + 2))
    # axis
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444"/>' % (left, y + 6, left + bar_w, y + 6))
    step = 0.5
    k = 0
    while k * step <= vmax + 1e-9:
        x = left + k * step * scale
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#444"/>' % (x, y + 6, x, y + 10))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%.1f</text>' % (x, y + 22, k * step))
        k += 1
    out.append('<text x="%d" y="%d" fill="#555">black tick: target; dashed: parity (1.0); '
               'green met, red not met, grey no target</text>' % (left, y + 36))
    out.append('<text x="%d" y="%d" fill="#555">circle: the same ratio from server CPU time '
               'per request (steadier on a busy machine)</text>' % (left, y + 50))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


# ---------------------------------------------------------------------------------------
# machine

def version_of(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return None


def machine_info(args):
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mods = {}
    for m in ("uvloop", "hiredis", "sortedcontainers"):
        try:
            mod = __import__(m)
            mods[m] = getattr(mod, "__version__", "present")
        except ImportError:
            mods[m] = None
    commit = version_of(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = version_of(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"])
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "modules": mods,
        "redis_server": version_of([args.redis_server, "--version"]),
        "redis_benchmark": version_of([args.redis_benchmark, "--version"]),
        "git_commit": commit,
        "git_dirty": bool(dirty) if dirty is not None else None,
        "nofile_limit": resource.getrlimit(resource.RLIMIT_NOFILE),
        "loadavg_start": os.getloadavg(),
    }


# ---------------------------------------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tests", default=DEFAULT_TESTS, help="comma list (default: %(default)s)")
    ap.add_argument("--pipeline", default="1,16", help="comma list of -P values (default: 1,16)")
    ap.add_argument("-n", type=int, default=None, help="requests per run (default 100000)")
    ap.add_argument("-c", type=int, default=50, help="clients (default 50)")
    ap.add_argument("--rounds", type=int, default=None, help="rounds, median ratio (default 3)")
    ap.add_argument("--quick", action="store_true",
                    help="shrink: -n 10000, 1 round, 100000 memory keys, 2000 idle connections")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-idle", action="store_true")
    ap.add_argument("--skip-extras", action="store_true",
                    help="skip the replica, EVALSHA, PUBLISH and RDB comparisons")
    ap.add_argument("--memory-keys", type=int, default=None, help="default 1000000")
    ap.add_argument("--idle-conns", type=int, default=None, help="default 10000")
    ap.add_argument("--server-cmd", default=None,
                    help="command starting redislet (default: this python -m redislet)")
    ap.add_argument("--redis-server", default="redis-server")
    ap.add_argument("--redis-benchmark", default="redis-benchmark")
    ap.add_argument("--timeout", type=int, default=600, help="per redis-benchmark run, seconds")
    ap.add_argument("--json", default=os.path.join(ROOT, "bench", "results-latest.json"))
    ap.add_argument("--svg", default=os.path.join(ROOT, "docs", "perf-ratios.svg"))
    ap.add_argument("--no-svg", action="store_true")
    ap.add_argument("--strict", action="store_true", help="exit status 1 when a target is not met")
    args = ap.parse_args(argv)
    q = args.quick
    args.n = args.n if args.n is not None else (10000 if q else 100000)
    args.rounds = args.rounds if args.rounds is not None else (1 if q else 3)
    args.memory_keys = args.memory_keys if args.memory_keys is not None else (100000 if q else 1000000)
    args.idle_conns = args.idle_conns if args.idle_conns is not None else (2000 if q else 10000)
    args.tests = [t.strip().lower() for t in args.tests.split(",") if t.strip()]
    args.pipelines = [int(p) for p in args.pipeline.split(",") if p.strip()]
    return args


def main(argv=None):
    args = parse_args(argv)
    for tool in (args.redis_server, args.redis_benchmark):
        if shutil.which(tool) is None:
            sys.exit("%s not found (Debian: apt-get install redis-server redis-tools)" % tool)
    nofile = raise_nofile()
    if not args.skip_idle and nofile < args.idle_conns + 200:
        sys.exit("RLIMIT_NOFILE is %d: too low for %d idle connections (raise the hard limit "
                 "or pass --idle-conns)" % (nofile, args.idle_conns))
    started = time.time()
    results = {
        "command": " ".join(shlex.quote(a) for a in [sys.executable, os.path.relpath(__file__, ROOT)]
                            + list(sys.argv[1:] if argv is None else argv)),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "params": {"tests": args.tests, "pipelines": args.pipelines, "n": args.n, "c": args.c,
                   "rounds": args.rounds, "r": 100000, "memory_keys": args.memory_keys,
                   "idle_conns": args.idle_conns},
        "machine": machine_info(args),
        "throughput": {},
    }
    log("# %s" % results["command"])
    log("# %(nproc)s x %(cpu_model)s, Python %(python)s, %(modules)s" % results["machine"])
    with tempfile.TemporaryDirectory(prefix="redislet-bench-") as workdir:
        if not args.skip_throughput or not args.skip_idle:
            pair = start_pair(args, workdir)
            try:
                if not args.skip_throughput:
                    log("throughput (%d rounds, -c %d -n %d)" % (args.rounds, args.c, args.n))
                    run_throughput(args, pair, results)
                if not args.skip_idle:
                    log("idle connections (%d)" % args.idle_conns)
                    flush(pair)
                    run_idle(args, pair, results)
            finally:
                stop_pair(pair)
        if not args.skip_memory:
            log("memory (%d keys)" % args.memory_keys)
            run_memory(args, workdir, results)
        if not args.skip_extras:
            log("extras (replica, evalsha, publish, rdb)")
            run_extras(args, results)
    results["machine"]["loadavg_end"] = os.getloadavg()
    results["duration_s"] = round(time.time() - started, 1)
    rows = evaluate(args, results)
    results["targets"] = rows
    results["summary"] = {"met": sum(r["status"] == "PASS" for r in rows),
                          "not_met": sum(r["status"] == "FAIL" for r in rows)}
    print("# %s" % results["command"])
    m = results["machine"]
    print("# %s x %s, Python %s, uvloop %s, hiredis %s; %s; load avg %.1f -> %.1f"
          % (m["nproc"], m["cpu_model"], m["python"], m["modules"]["uvloop"], m["modules"]["hiredis"],
             m["redis_server"].split(" sha=")[0] if m["redis_server"] else "?",
             m["loadavg_start"][0], m["loadavg_end"][0]))
    print_table(rows)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
        log("wrote %s" % args.json)
    if args.svg and not args.no_svg and rows:
        sub = ("%s; -c %d -n %d, rounds: %d (median); %s x %s, Python %s (%s)"
               % (results["started"][:10], args.c, args.n, args.rounds, m["nproc"], m["cpu_model"],
                  m["python"], "uvloop" if m["modules"]["uvloop"] else "asyncio"))
        write_svg(args.svg, rows, sub)
        log("wrote %s" % args.svg)
    if args.strict and results["summary"]["not_met"]:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
