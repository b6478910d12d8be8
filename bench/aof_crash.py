#!/usr/bin/env python3
"""AOF crash test: no acknowledged write may be lost with `appendfsync always`.

Each cycle starts the server on the same data directory (appendonly yes, appendfsync
always), checks that every write acknowledged in earlier cycles is there, runs a write load
from several clients that record what the server acknowledged, and kills the server with
SIGKILL at a random moment (sometimes during a BGREWRITEAOF). The check after restart:

  - log:<i>   (RPUSH of 1, 2, 3... by client i): exactly 1..m in order, with m >= the last
              acknowledged number and m <= that + 1 (the one write in flight may or may not
              have reached the disk before the kill);
  - ctr:<i>   (INCR by client i, one per pushed number): equal to m, or m - 1 / m + 1 when
              the kill fell between the two (they are separate commands);
  - tx:<i>:a / tx:<i>:b  (set together in MULTI/EXEC): always equal (transactions are
              atomic on load: an incomplete MULTI block at the end is reverted).

Usage: python bench/aof_crash.py [--cycles 5] [--max-run 1.5] [--clients 4]
                                [--server redislet|/path/to/redis-server] [--dir D] [--seed N]
Exit status 0 when every cycle passed.
"""
import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(kind, port, datadir, logf, extra=()):
    args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", datadir, "--save", "",
            "--appendonly", "yes", "--appendfsync", "always", *extra]
    env = dict(os.environ)
    if kind == "redislet":
        argv = [sys.executable, "-m", "redislet", *args]
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    else:
        argv = [kind, *args]
    proc = subprocess.Popen(argv, cwd=datadir, stdout=logf, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with status %s at start-up" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return proc
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


class Writer(threading.Thread):
    def __init__(self, port, idx, start_n):
        super().__init__(daemon=True)
        self.port = port
        self.idx = idx
        self.n = start_n          # last number known to be in log:<idx>
        self.acked = start_n      # last number the server acknowledged
        self.tx_acked = 0
        self.ops = 0
        self.stop = False

    def run(self):
        import redis
        try:
            from redis.retry import Retry
            from redis.backoff import NoBackoff
            r = redis.Redis(port=self.port, socket_timeout=10, retry=Retry(NoBackoff(), 0))
            i = self.idx
            while not self.stop:
                n = self.acked + 1
                r.rpush("log:%d" % i, n)
                self.acked = n
                r.incr("ctr:%d" % i)
                self.ops += 2
                if n % 5 == 0:
                    p = r.pipeline(transaction=True)
                    p.set("tx:%d:a" % i, n)
                    p.set("tx:%d:b" % i, n)
                    p.execute()
                    self.tx_acked = n
                    self.ops += 1
        except Exception:   # noqa: BLE001 - the server was killed
            pass


def verify(port, writers, nclients):
    """Check the restarted server against what was acknowledged; returns (errors, new
    starting numbers)."""
    import redis
    r = redis.Redis(port=port, socket_timeout=30)
    errors = []
    starts = []
    for i in range(nclients):
        w = writers[i] if writers else None
        acked = w.acked if w else 0
        got = [int(x) for x in r.lrange("log:%d" % i, 0, -1)]
        m = len(got)
        if got != list(range(1, m + 1)):
            errors.append("log:%d is not 1..%d in order" % (i, m))
        if m < acked:
            errors.append("log:%d lost acknowledged writes: has %d, %d were acknowledged"
                          % (i, m, acked))
        if m > acked + 1:
            errors.append("log:%d has %d entries, only %d acknowledged (+1 in flight)"
                          % (i, m, acked))
        ctr = int(r.get("ctr:%d" % i) or 0)
        if abs(ctr - m) > 1:
            errors.append("ctr:%d is %d, log has %d" % (i, ctr, m))
        a, b = r.get("tx:%d:a" % i), r.get("tx:%d:b" % i)
        if a != b:
            errors.append("tx:%d is not atomic: a=%r b=%r" % (i, a, b))
        if w and w.tx_acked and int(a or 0) < w.tx_acked:
            errors.append("tx:%d lost an acknowledged transaction" % i)
        # the counter may lag the log by the kill: repair it so the next cycle's
        # expectations stay simple
        if ctr != m:
            r.set("ctr:%d" % i, m)
        starts.append(m)
    r.close()
    return errors, starts


def run(cycles=5, max_run=1.5, clients=4, server="redislet", datadir=None, seed=None,
        rewrite_chance=0.4, log=print, extra=()):
    rnd = random.Random(seed)
    own_dir = datadir is None
    datadir = datadir or tempfile.mkdtemp(prefix="aof-crash-")
    logpath = os.path.join(datadir, "server.log")
    port = free_port()
    writers = None
    total_acked = 0
    failures = []
    starts = [0] * clients
    t_start = time.time()
    try:
        for cycle in range(cycles):
            with open(logpath, "ab") as logf:
                proc = start_server(server, port, datadir, logf, extra)
                try:
                    errors, starts = verify(port, writers, clients)
                    if errors:
                        failures.append((cycle, errors))
                        log("cycle %d: FAIL %s" % (cycle, "; ".join(errors)))
                    elif cycle:
                        log("cycle %d: restart ok, every acknowledged write present" % cycle)
                    writers = [Writer(port, i, starts[i]) for i in range(clients)]
                    for w in writers:
                        w.start()
                    run_for = rnd.uniform(0.1, max_run)
                    if rnd.random() < rewrite_chance:
                        time.sleep(run_for * rnd.uniform(0.2, 0.8))
                        try:
                            with socket.create_connection(("127.0.0.1", port)) as s:
                                s.sendall(b"BGREWRITEAOF\r\n")
                                s.recv(128)
                        except OSError:
                            pass
                        time.sleep(rnd.uniform(0.0, 0.3))
                    else:
                        time.sleep(run_for)
                finally:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                for w in writers:
                    w.stop = True
                for w in writers:
                    w.join(10)
                acked = sum(w.acked - s for w, s in zip(writers, starts))
                total_acked += acked
                log("cycle %d: killed -9 after %d acknowledged pushes" % (cycle, acked))
        with open(logpath, "ab") as logf:
            proc = start_server(server, port, datadir, logf, extra)
            try:
                errors, _ = verify(port, writers, clients)
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        if errors:
            failures.append((cycles, errors))
            log("final restart: FAIL %s" % "; ".join(errors))
        else:
            log("final restart ok")
    finally:
        if own_dir and not failures:
            shutil.rmtree(datadir, ignore_errors=True)
    log("%d cycles, %d acknowledged pushes, %.1fs, %s"
        % (cycles, total_acked, time.time() - t_start,
           "OK" if not failures else "%d FAILURES (data in %s)" % (len(failures), datadir)))
    return failures, total_acked


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=5)
    ap.add_argument("--max-run", type=float, default=1.5,
                    help="longest write phase before the kill, seconds")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--server", default="redislet",
                    help="'redislet' or the path of a redis-server binary")
    ap.add_argument("--dir", default=None, help="data directory (default: a temp dir)")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args(argv)
    failures, _ = run(args.cycles, args.max_run, args.clients, args.server, args.dir, args.seed)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
