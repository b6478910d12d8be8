"""maxmemory: processCommand's out-of-memory rejection.

With `maxmemory` set and the `noeviction` policy (Redis's default), a command that may
grow memory (deny-oom), an EXEC holding one, or anything queued inside MULTI is refused
with Redis's OOM error while used memory (the process RSS, as INFO reports it) is above
the limit. The eviction policies (allkeys-lru, volatile-ttl, ...) are not implemented:
with them, maxmemory is not enforced (rejecting writes would be worse than ignoring it).
"""
import time

from . import hooks

OOM = "OOM command not allowed when used memory > 'maxmemory'."
_SAMPLE_S = 0.005        # RSS is read from /proc: at most every 5 ms


class MaxMemory:
    def __init__(self, srv):
        self.srv = srv
        self.sampled_at = 0.0
        self.over = False
        srv.out_of_memory = self.out_of_memory       # used by scripting (allow-oom)
        cfg = srv.config
        cfg.on_change("maxmemory", lambda v: self.update())
        cfg.on_change("maxmemory-policy", lambda v: self.update())
        self.update()

    def enforced(self):
        v = self.srv.config.values
        return bool(v["maxmemory"]) and v["maxmemory-policy"] == "noeviction"

    def update(self):
        """Install the state check only while it can fire (keeps the fast path)."""
        checks = self.srv.state_checks
        if self.enforced():
            if self.check not in checks:
                checks.append(self.check)
        elif self.check in checks:
            checks.remove(self.check)
        self.sampled_at = 0.0
        self.srv.update_checks()

    def out_of_memory(self):
        if not self.enforced():
            return False
        now = time.monotonic()
        if now - self.sampled_at > _SAMPLE_S:
            from .commands.info import used_memory
            self.over = used_memory(self.srv) > self.srv.config.values["maxmemory"]
            self.sampled_at = now
        return self.over

    def check(self, c, cmd, argv):
        name = cmd.name
        if c.multi is not None and name not in ("exec", "discard", "quit", "reset"):
            reject = True                  # queuing may use unbounded memory
        elif name == "exec":
            from .commands.transactions import queued_flags
            reject = queued_flags(c)["denyoom"]
        else:
            reject = cmd.denyoom
        if reject and self.out_of_memory():
            return OOM
        return None


hooks.server_init.append(MaxMemory)
