"""oom-score-adj (setOOMScoreAdj in server.c): the server writes /proc/self/oom_score_adj
for its class (master, replica) and each fork child for the background class.

Whether the score was changed by us and the score from before (to restore it when
oom-score-adj goes back to no) are per process, as Redis's statics."""
import os
import sys

from . import hooks

CONFIG_OOM_MASTER, CONFIG_OOM_REPLICA, CONFIG_OOM_BGCHILD = 0, 1, 2
PROC_PATH = "/proc/self/oom_score_adj"

_adjusted_by_us = False
_base = 0


def _atoi(buf):
    s = buf.strip()
    n = 0
    i = 0
    neg = s[:1] == b"-"
    if s[:1] in (b"-", b"+"):
        i = 1
    while i < len(s) and 48 <= s[i] <= 57:
        n = n * 10 + s[i] - 48
        i += 1
    return -n if neg else n


def set_oom_score_adj(srv, process_class=-1):
    """setOOMScoreAdj: True on success (C_OK), False after logging the failure."""
    global _adjusted_by_us, _base
    if process_class == -1:
        process_class = CONFIG_OOM_REPLICA if srv.config.values["replicaof"] \
            else CONFIG_OOM_MASTER
    if not sys.platform.startswith("linux"):
        return False          # no HAVE_PROC_OOM_SCORE_ADJ: unsupported
    v = srv.config.values
    mode = v["oom-score-adj"]
    if mode != "no":
        if not _adjusted_by_us:
            _adjusted_by_us = True
            # the score from before Redis took control over it
            try:
                with open(PROC_PATH, "rb") as f:
                    _base = _atoi(f.read(64))
            except OSError as e:
                srv.log("warning", "Unable to read oom_score_adj: %s" % os.strerror(e.errno))
                return False
        val = v["oom-score-adj-values"][process_class]
        if mode != "absolute":
            val += _base
        val = max(-1000, min(1000, val))
    elif _adjusted_by_us:
        _adjusted_by_us = False
        val = _base
    else:
        return True
    try:
        fd = os.open(PROC_PATH, os.O_WRONLY)
    except OSError as e:
        srv.log("warning", "Unable to write oom_score_adj: %s" % os.strerror(e.errno))
        return False
    try:
        os.write(fd, b"%d\n" % val)
    except OSError as e:
        srv.log("warning", "Unable to write oom_score_adj: %s" % os.strerror(e.errno))
        return False
    finally:
        os.close(fd)
    return True


def in_fork_child(srv):
    """redisFork's child: the background class before anything else."""
    try:
        set_oom_score_adj(srv, CONFIG_OOM_BGCHILD)
    except Exception:      # noqa: BLE001 - never in the way of the child's work
        pass


def _update(srv, _value=None):
    """updateOOMScoreAdj: the apply function of oom-score-adj and oom-score-adj-values."""
    from .config import ConfigError
    if not set_oom_score_adj(srv):
        raise ConfigError("Failed to set current oom_score_adj. Check server logs.")


def _init(srv):
    fn = lambda value: _update(srv, value)   # one callback for both: runs once per SET
    srv.config.on_change("oom-score-adj", fn)
    srv.config.on_change("oom-score-adj-values", fn)


hooks.server_init.append(_init)
