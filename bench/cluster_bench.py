"""Cluster mode throughput, against real Redis on the same machine (issue 16's targets).

1. One node with cluster-enabled yes owning all 16384 slots, against the same server
   standalone: redis-benchmark set/get (target: the cluster node within 10%, for redislet;
   Redis's own ratio is printed beside it).
2. A 3-master cluster's aggregate throughput, redislet against Redis: redis-benchmark
   --cluster (it sends each key to its slot's master) for set/get.

    python bench/cluster_bench.py [-n 100000] [-P 16] [--rounds 3] [--tests set,get]

Everything runs on free ports of 127.0.0.1 and is torn down at the end. Other load on the
machine moves these numbers a lot: compare with Redis's own standalone/cluster ratio, which
should be about 1.0 on a quiet machine.
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REDIS = shutil.which("redis-server")
BENCH = shutil.which("redis-benchmark")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, *args, timeout=5):
    """One command over a plain socket; the reply's raw bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"*%d\r\n" % len(args) + b"".join(
            b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() if isinstance(x, str) else x
                                                      for x in args)))
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


class Node:
    def __init__(self, kind, tmp, cluster):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(dir=tmp)
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no"]
        self.cport = free_port()
        if cluster:
            args += ["--cluster-enabled", "yes", "--cluster-port", str(self.cport),
                     "--cluster-config-file", os.path.join(self.dir, "nodes.conf"),
                     "--cluster-node-timeout", "5000"]
        argv = ([REDIS] if kind == "redis" else [sys.executable, "-m", "redislet"]) + args
        env = dict(os.environ, PYTHONPATH=ROOT)
        self.proc = subprocess.Popen(argv, cwd=self.dir, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if call(self.port, "PING").startswith(b"+PONG"):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("%s did not start" % kind)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def wait_ok(nodes, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all(b"cluster_state:ok" in call(n.port, "CLUSTER", "INFO") for n in nodes):
            return
        time.sleep(0.2)
    raise RuntimeError("cluster did not reach state ok")


def make_cluster(nodes):
    per = 16384 // len(nodes)
    for i, n in enumerate(nodes):
        start = i * per
        end = 16383 if i == len(nodes) - 1 else start + per - 1
        call(n.port, "CLUSTER", "ADDSLOTSRANGE", str(start), str(end))
        call(n.port, "CLUSTER", "SET-CONFIG-EPOCH", str(i + 1))
    for n in nodes[1:]:
        call(nodes[0].port, "CLUSTER", "MEET", "127.0.0.1", str(n.port), str(n.cport))
    wait_ok(nodes)


def rps(port, test, n, pipeline, cluster=False):
    argv = [BENCH, "-p", str(port), "-t", test, "-n", str(n), "-P", str(pipeline),
            "-c", "50", "-r", "100000", "--csv"]
    if cluster:
        argv.append("--cluster")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600).stdout
    for line in out.splitlines():
        parts = [p.strip('"') for p in line.split(",")]
        if len(parts) > 1 and parts[0].lower() == test:
            return float(parts[1])
    raise RuntimeError("no result from redis-benchmark: %r" % out[-300:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("-P", dest="pipeline", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tests", default="set,get")
    args = ap.parse_args()
    if not (REDIS and BENCH):
        sys.exit("needs Debian's redis-server and redis-benchmark")
    tests = args.tests.split(",")
    tmp = tempfile.mkdtemp(prefix="cluster-bench-")
    nodes = []
    try:
        print("1. one node owning all slots vs standalone (-P %d, median of %d rounds)"
              % (args.pipeline, args.rounds))
        for kind in ("redislet", "redis"):
            single = Node(kind, tmp, False)
            clnode = Node(kind, tmp, True)
            nodes += [single, clnode]
            make_cluster([clnode])
            for t in tests:
                a, b = [], []
                for _ in range(args.rounds):
                    a.append(rps(single.port, t, args.n, args.pipeline))
                    b.append(rps(clnode.port, t, args.n, args.pipeline))
                ma, mb = statistics.median(a), statistics.median(b)
                verdict = ""
                if kind == "redislet":
                    verdict = "  (target >= 0.90: %s)" % ("met" if mb / ma >= 0.9 else "NOT met")
                print("   %-8s %-4s standalone %9.0f rps  cluster node %9.0f rps  ratio %.2f%s"
                      % (kind, t, ma, mb, mb / ma, verdict))
            single.stop()
            clnode.stop()
        print("2. 3-master cluster aggregate (redis-benchmark --cluster, -P %d)"
              % args.pipeline)
        agg = {}
        for kind in ("redislet", "redis"):
            masters = [Node(kind, tmp, True) for _ in range(3)]
            nodes += masters
            make_cluster(masters)
            time.sleep(1)
            for t in tests:
                agg[(kind, t)] = statistics.median(
                    rps(masters[0].port, t, args.n, args.pipeline, cluster=True)
                    for _ in range(args.rounds))
            for m in masters:
                m.stop()
        for t in tests:
            a, b = agg[("redislet", t)], agg[("redis", t)]
            print("   %-4s redislet %9.0f rps  Redis %9.0f rps  ratio %.2f" % (t, a, b, a / b))
    finally:
        for n in nodes:
            n.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
