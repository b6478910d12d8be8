"""Start-up time: from spawning the server process to its first +PONG.

    python bench/startup.py                  # 15 runs each of redislet and redis-server
    python bench/startup.py -n 30 --json out.json
    python bench/startup.py --embedded       # also redislet.Server() in a fresh interpreter

Each run takes a free port (bind to port 0), spawns the server with `--port P --save ""`,
then connects and sends PING every 2 ms until +PONG arrives. The servers are alternated
run by run so that the machine's load affects all alike. Reported: the median (and min,
max) per server and the ratio of the medians redislet / redis-server (target: <= 3).

redislet runs as `python -m redislet` from a copy of this checkout's redislet package in a
temporary directory (first on PYTHONPATH), in two bytecode situations:

  cached     its .pyc files written by a warm-up run and reused, as for an installed
             package (pip compiles .pyc files when it installs a wheel)
  no-cache   PYTHONDONTWRITEBYTECODE=1: redislet's modules are compiled from source at
             each start (a source checkout in an environment that sets
             PYTHONDONTWRITEBYTECODE, as this project's CI does); the standard library and
             the other packages still use their installed .pyc files

For scale, the interpreter's own floor is shown too: `python -c pass` and
`python -c "import asyncio, uvloop"`, spawn to exit. redis-server is Debian's
/usr/bin/redis-server (skipped with a note when absent).
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = 3.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """CPU time the process has used so far (Linux: the sum of its threads' schedstat run
    times, in ns), or None. Unlike wall time, hardly affected by other processes' load."""
    total = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total / 1e9


def ping_until_pong(port, t0, proc=None, timeout=20.0):
    """(seconds from t0 until the server on port answers +PONG, its CPU seconds by then),
    bounded by timeout."""
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited with status %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"PING\r\n")
                data = s.recv(64)
                if data.startswith(b"+PONG"):
                    wall = time.perf_counter() - t0
                    return wall, cpu_seconds(proc.pid) if proc is not None else None
        except OSError:
            pass
        time.sleep(0.002)
    raise RuntimeError("no PONG from port %d within %.0f s" % (port, timeout))


def spawn_once(argv, env, cwd):
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv + ["--port", str(port), "--save", "", "--bind", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            cwd=cwd)
    try:
        return ping_until_pong(port, t0, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def embedded_once(env, cwd):
    """redislet.Server() in a fresh interpreter: import + start() until PONG (seconds)."""
    code = ("import time, socket; t0 = time.perf_counter(); import redislet; "
            "s = redislet.Server(); s.start(); "
            "c = socket.create_connection(('127.0.0.1', s.port)); c.sendall(b'PING\\r\\n'); "
            "assert c.recv(64).startswith(b'+PONG'); t = time.perf_counter() - t0; s.stop(); "
            "print('STARTUP', t)")
    # cwd: not the checkout, which `-c` would put first on sys.path
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120, check=True,
                         cwd=cwd)
    return float([ln for ln in out.stdout.splitlines() if ln.startswith("STARTUP ")][-1][8:])


def exit_once(args, env, cwd):
    """(wall seconds spawn to exit, CPU seconds) of `python args`."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable] + args, env=env, cwd=cwd)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError("python %s exited with %d" % (" ".join(args), proc.returncode))
    return wall, ru.ru_utime + ru.ru_stime


def _env(src, cached):
    """Environment running the redislet package copied under src."""
    env = dict(os.environ)
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("PYTHONPYCACHEPREFIX", None)
    if cached:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _copy_package(dest):
    shutil.copytree(os.path.join(ROOT, "redislet"), os.path.join(dest, "redislet"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def summary(times):
    return {"median": statistics.median(times), "min": min(times), "max": max(times),
            "runs": len(times)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--runs", type=int, default=15)
    ap.add_argument("--redis-server", default=shutil.which("redis-server")
                    or "/usr/bin/redis-server")
    ap.add_argument("--embedded", action="store_true",
                    help="also time redislet.Server() in a fresh interpreter")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="redislet-startup-")
    cached_env = _env(_copy_package(os.path.join(tmp, "cached")), True)
    nocache_env = _env(_copy_package(os.path.join(tmp, "nocache")), False)
    redislet = [sys.executable, "-m", "redislet"]
    servers = {"redislet (cached)": (redislet, cached_env),
               "redislet (no-cache)": (redislet, nocache_env)}
    if os.path.exists(args.redis_server):
        servers["redis-server"] = ([args.redis_server], None)
    else:
        print("note: %s not found; only redislet is timed" % args.redis_server,
              file=sys.stderr)
    floors = {"python -c pass": ["-c", "pass"],
              "python -c 'import asyncio, uvloop'": ["-c", "import asyncio, uvloop"]}
    times = {name: [] for name in servers}
    times.update({name: [] for name in floors})
    emb = {"redislet.Server() (cached)": ([], cached_env),
           "redislet.Server() (no-cache)": ([], nocache_env)}
    # one untimed warm-up each (page cache; fills the "cached" bytecode cache)
    for argv_, env in servers.values():
        spawn_once(argv_, env, tmp)
    cpu = {name: [] for name in servers}
    for _ in range(args.runs):
        for name, (argv_, env) in servers.items():
            wall, c = spawn_once(argv_, env, tmp)
            times[name].append(wall)
            if c is not None:
                cpu[name].append(c)
        for name, a in floors.items():
            wall, c = exit_once(a, cached_env, tmp)
            times[name].append(wall)
            cpu.setdefault(name, []).append(c)
        if args.embedded:
            for t, env in emb.values():
                t.append(embedded_once(env, tmp))
    shutil.rmtree(tmp, ignore_errors=True)
    result = {name: summary(t) for name, t in times.items()}
    if args.embedded:
        result.update({name: summary(t) for name, (t, _) in emb.items()})
    for name, st in result.items():
        print("%-36s median %7.1f ms   min %7.1f   max %7.1f   (%d runs)"
              % (name, st["median"] * 1e3, st["min"] * 1e3, st["max"] * 1e3, st["runs"]))
    cpu = {name: summary(t) for name, t in cpu.items() if t}
    if cpu:
        result["cpu_to_pong"] = cpu
        print("CPU time of the server process until PONG (Linux schedstat; little affected "
              "by the machine's load), of the python floors until exit:")
        for name, st in cpu.items():
            print("  %-34s median %7.1f ms   min %7.1f" % (name, st["median"] * 1e3,
                                                           st["min"] * 1e3))
    if "redis-server" in result:
        base = result["redis-server"]["median"]
        result["ratio"] = {}
        for name in ("redislet (cached)", "redislet (no-cache)"):
            ratio = result[name]["median"] / base
            result["ratio"][name] = ratio
            print("ratio %-30s / redis-server: %6.2fx (target <= %.0fx): %s"
                  % (name, ratio, TARGET, "PASS" if ratio <= TARGET else "FAIL"))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if load is not None:
        result["loadavg_1min"] = load
        print("load average (1 min): %.2f on %d CPUs" % (load, os.cpu_count() or 0))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
