"""Append-only file persistence as Redis 7.0 does it (aof.c, and the AOF parts of server.c).

The multi-part layout: inside `appenddirname` (under `dir`) a manifest lists one BASE file
(a snapshot: an RDB body when aof-use-rdb-preamble is yes, else commands), the INCR files
with the commands written since, and HISTORY files waiting to be deleted:

    appendonlydir/appendonly.aof.1.base.rdb
    appendonlydir/appendonly.aof.1.incr.aof
    appendonlydir/appendonly.aof.manifest   "file appendonly.aof.1.base.rdb seq 1 type b\\n"

Feeding: `Aof.feed` is a `srv.propagate_targets` entry; it formats every propagated effect
as RESP (with a SELECT when the database changes) into an in-memory buffer. The buffer is
written to the INCR file before any reply goes out (`srv.before_reply`, called by
Client.flush; a `call_soon` callback plays beforeSleep for writes that produce no reply):
with `appendfsync always` the write is fdatasync'ed there too, with `everysec` a
background thread fsyncs at most once per second, with `no` the kernel decides.

BGREWRITEAOF forks: the child writes the new base to temp-rewriteaof-bg-<pid>.aof while the
parent opens a new INCR file at the fork moment; when the child exits (polled from the
cron) the parent renames the base into the directory, turns the old files into HISTORY,
writes the manifest (temp file + rename) and deletes the history.

Start-up (cli.startup_hooks): the manifest is read, a legacy single appendonly.aof is moved
into the directory, the base (RDB body or commands) and the INCR files are replayed through
a fake client; with appendonly yes and no AOF at all a base is created from the (empty)
dataset, as Redis 7.0 does. Fatal errors stop the start-up with exit status 1.
"""
import errno
import os
import queue
import signal
import sys
import threading
import time

from .. import children, hooks
from ..errors import CommandError
from ..util import atoll as _atoll, repr_bytes
from ..gcpolicy import without_collector
from . import loading, rdb

AOF_OFF, AOF_ON, AOF_WAIT_REWRITE = 0, 1, 2
TYPE_BASE, TYPE_HIST, TYPE_INCR = "b", "h", "i"
ITEMS_PER_CMD = 64                  # AOF_REWRITE_ITEMS_PER_CMD
AUTOSYNC_BYTES = 4 * 1024 * 1024    # REDIS_AUTOSYNC_BYTES (aof-rewrite-incremental-fsync)
REWRITE_LIMIT_THRESHOLD = 3         # AOF_REWRITE_LIMITE_THRESHOLD
REWRITE_LIMIT_MAX_MINUTES = 60
WRITE_LOG_ERROR_RATE = 30           # seconds between write error logs

# load results (AOF_OK...)
AOF_OK, AOF_NOT_EXIST, AOF_EMPTY, AOF_OPEN_ERR, AOF_FAILED, AOF_TRUNCATED = range(6)

_MULTIBULK = [b"*%d\r\n" % i for i in range(64)]
_BULK = [b"$%d\r\n" % i for i in range(1024)]

# commands that Redis propagates to replicas only (forceCommandPropagation(PROPAGATE_REPL))
_REPL_ONLY = frozenset((b"publish", b"spublish"))

class FatalAofError(Exception):
    """Start-up must stop (exit status 1); the log already says why."""


# -- the manifest ---------------------------------------------------------------------------
class AofInfo:
    __slots__ = ("name", "seq", "type")

    def __init__(self, name, seq, type_):
        self.name, self.seq, self.type = name, seq, type_

    def dup(self):
        return AofInfo(self.name, self.seq, self.type)

    def line(self):
        name = self.name
        if _needs_repr(name):
            name = repr_bytes(name.encode("utf-8", "surrogateescape")).decode("ascii")
        return "file %s seq %d type %s\n" % (name, self.seq, self.type)


class Manifest:
    def __init__(self):
        self.base = None
        self.incr = []
        self.history = []
        self.base_seq = 0
        self.incr_seq = 0
        self.dirty = False

    def dup(self):
        m = Manifest()
        m.base = self.base.dup() if self.base is not None else None
        m.incr = [ai.dup() for ai in self.incr]
        m.history = [ai.dup() for ai in self.history]
        m.base_seq, m.incr_seq, m.dirty = self.base_seq, self.incr_seq, self.dirty
        return m

    def to_string(self):
        """getAofManifestAsString: base, then history, then incr files."""
        out = []
        if self.base is not None:
            out.append(self.base.line())
        out.extend(ai.line() for ai in self.history)
        out.extend(ai.line() for ai in self.incr)
        return "".join(out)


def _needs_repr(s):
    """sdsneedsrepr."""
    for ch in s:
        o = ord(ch)
        if ch in '\\"\n\r\t\a\b' or not (32 <= o < 127) or ch == " ":
            return True
    return False


def parse_manifest(text, log):
    """aofLoadManifestFromFile on the manifest bytes; raises FatalAofError after logging."""
    from ..util import split_args
    am = Manifest()
    maxseq = 0
    linenum = 0
    lines = text.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
        complete = True
    else:
        complete = False
    err = None
    line = None
    if not lines:
        err = "Found an empty AOF manifest"
    for idx, raw in enumerate(lines):
        linenum += 1
        if len(raw) + 1 > 1024:
            err = "The AOF manifest file contains too long line"
            line = None
            break
        if raw[:1] == b"#":
            continue
        if idx == len(lines) - 1 and not complete:
            err = "The AOF manifest file contains too long line"   # no newline: fgets
            break
        line = raw.strip(b" \t\r\n")
        if not line:
            err = "Invalid AOF manifest file format"
            break
        argv = split_args(line)
        if argv is None or len(argv) < 6 or len(argv) % 2:
            err = "Invalid AOF manifest file format"
            break
        name = None
        seq = 0
        ftype = None
        for i in range(0, len(argv), 2):
            k = argv[i].lower()
            if k == b"file":
                name = argv[i + 1].decode("utf-8", "surrogateescape")
                if "/" in name:
                    err = "File can't be a path, just a filename"
                    break
            elif k == b"seq":
                seq = _atoll(argv[i + 1])
            elif k == b"type":
                ftype = argv[i + 1][:1].decode("latin-1")
        if err is not None:
            break
        if not name or not seq or not ftype:
            err = "Invalid AOF manifest file format"
            break
        ai = AofInfo(name, seq, ftype)
        if ftype == TYPE_BASE:
            if am.base is not None:
                err = "Found duplicate base file information"
                break
            am.base = ai
            am.base_seq = seq
        elif ftype == TYPE_HIST:
            am.history.append(ai)
        elif ftype == TYPE_INCR:
            if seq <= maxseq:
                err = "Found a non-monotonic sequence number"
                break
            am.incr.append(ai)
            am.incr_seq = seq
            maxseq = seq
        else:
            err = "Unknown AOF file type"
            break
        line = None
    if err is not None:
        log("warning", "\n*** FATAL AOF MANIFEST FILE ERROR ***\n")
        if line is not None:
            log("warning", "Reading the manifest file, at line %d\n" % linenum)
            log("warning", ">>> '%s'\n" % line.decode("utf-8", "replace"))
        log("warning", "%s\n" % err)
        raise FatalAofError(err)
    return am


# -- background fsync (bio.c BIO_AOF_FSYNC / BIO_CLOSE_AOF) ------------------------------------
class _Bio:
    """One background thread that fsyncs (and closes) AOF file descriptors."""
    _lock = threading.Lock()
    _instance = None

    def __init__(self):
        self.jobs = queue.SimpleQueue()
        self.pending_fsync = {}    # owner id -> fsync jobs queued or running
        self.thread = threading.Thread(target=self._run, name="redislet-bio-aof", daemon=True)
        self.thread.start()

    @classmethod
    def get(cls):
        with cls._lock:
            if cls._instance is None or not cls._instance.thread.is_alive():
                cls._instance = _Bio()
            return cls._instance

    def submit(self, owner, fd, close):
        if not close:
            self.pending_fsync[id(owner)] = self.pending_fsync.get(id(owner), 0) + 1
        self.jobs.put((owner, fd, close))

    def pending(self, owner):
        return self.pending_fsync.get(id(owner), 0)

    def _run(self):
        while True:
            owner, fd, close = self.jobs.get()
            try:
                os.fdatasync(fd)
                if not close:
                    owner.bio_fsync_errno = 0
            except OSError as e:
                if not close and e.errno not in (errno.EBADF, errno.EINVAL):
                    owner.bio_fsync_errno = e.errno
            if close:
                try:
                    os.close(fd)
                except OSError:
                    pass
            else:
                with _Bio._lock:
                    self.pending_fsync[id(owner)] -= 1


# -- the AOF state of one server ------------------------------------------------------------
class Aof:
    def __init__(self, srv):
        self.srv = srv
        v = srv.config.values
        self.state = AOF_OFF
        self.fd = -1
        self.buf = bytearray()
        self.selected_db = -1
        self.manifest = Manifest()
        self.current_size = 0
        self.rewrite_base_size = 0
        self.last_incr_size = 0
        self.last_incr_fsync_offset = 0
        self.last_fsync = int(time.time())
        self.flush_postponed_start = 0
        self.delayed_fsync = 0
        self.flush_sleep = 0              # DEBUG AOF-FLUSH-SLEEP (usec)
        self.last_write_status_ok = True
        self.last_write_errno = 0
        self.last_write_error_log = 0
        self.bio_fsync_errno = 0
        self.rewrite_scheduled = False
        self.rewrite_time_start = -1
        self.rewrite_time_last = -1
        self.lastbgrewrite_ok = True
        self.stat_rewrites = 0
        self.consecutive_failures = 0
        self.next_delay_minutes = 0
        self.next_rewrite_time = 0
        self.cur_timestamp = 0
        self.fsync_mode = v["appendfsync"]
        self.timestamps = v["aof-timestamp-enabled"]
        self._soon = False
        self._check_on = False
        self._bio = None

    # -- paths --------------------------------------------------------------------------
    @property
    def values(self):
        return self.srv.config.values

    def dirpath(self):
        v = self.values
        return os.path.join(v["dir"], v["appenddirname"])

    def path(self, name):
        return os.path.join(self.dirpath(), name)

    def tmp_rewrite_path(self, pid):
        return os.path.join(self.values["dir"], "temp-rewriteaof-bg-%d.aof" % pid)

    def log(self, level, msg):
        self.srv.log(level, msg)

    # -- child processes (one at a time, shared with BGSAVE) ------------------------------
    def child_active(self):
        """hasActiveChildProcess: an AOF rewrite, or a BGSAVE / full sync (rdb.fork_save)."""
        srv = self.srv
        return srv.child_type is not None or bool(getattr(srv, "_fork_jobs", None))

    def child_is_aof(self):
        return getattr(self.srv, "child_type", None) == "aof"

    # -- manifest operations ------------------------------------------------------------
    def new_base_name(self, am):
        """getNewBaseFileNameAndMarkPreAsHistory."""
        if am.base is not None:
            am.base.type = TYPE_HIST
            am.history.insert(0, am.base)
        fmt = ".rdb" if self.values["aof-use-rdb-preamble"] else ".aof"
        am.base_seq += 1
        am.base = AofInfo("%s.%d.base%s" % (self.values["appendfilename"], am.base_seq, fmt),
                          am.base_seq, TYPE_BASE)
        am.dirty = True
        return am.base.name

    def new_incr_name(self, am):
        am.incr_seq += 1
        ai = AofInfo("%s.%d.incr.aof" % (self.values["appendfilename"], am.incr_seq),
                     am.incr_seq, TYPE_INCR)
        am.incr.append(ai)
        am.dirty = True
        return ai.name

    def temp_incr_name(self):
        return "temp-%s.incr" % self.values["appendfilename"]

    def last_incr_name(self, am):
        if not am.incr:
            return self.new_incr_name(am)
        return am.incr[-1].name

    def mark_rewritten_incr_as_history(self, am):
        if not am.incr:
            return
        keep = am.incr[-1:] if self.fd != -1 else []
        moved = am.incr[:-1] if self.fd != -1 else am.incr
        for ai in reversed(moved):
            h = ai.dup()
            h.type = TYPE_HIST
            am.history.insert(0, h)
        am.incr = keep
        am.dirty = True

    def write_manifest(self, text):
        """writeAofManifestFile: temp file, fsync, rename, fsync the directory."""
        name = self.values["appendfilename"] + ".manifest"
        tmp_name = "temp-" + name
        tmp_path = self.path(tmp_name)
        try:
            fd = os.open(tmp_path, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644)
        except OSError as e:
            self.log("warning", "Can't open the AOF manifest file %s: %s"
                     % (tmp_name, os.strerror(e.errno)))
            return False
        try:
            data = text.encode("utf-8", "surrogateescape")
            try:
                _write_all(fd, data)
            except OSError as e:
                self.log("warning", "Error trying to write the temporary AOF manifest file "
                         "%s: %s" % (tmp_name, os.strerror(e.errno)))
                return False
            try:
                os.fsync(fd)
            except OSError as e:
                self.log("warning", "Fail to fsync the temp AOF file %s: %s."
                         % (tmp_name, os.strerror(e.errno)))
                return False
            try:
                os.rename(tmp_path, self.path(name))
            except OSError as e:
                self.log("warning", "Error trying to rename the temporary AOF manifest file "
                         "%s into %s: %s" % (tmp_name, name, os.strerror(e.errno)))
                return False
            if not _fsync_dir(self.dirpath()):
                self.log("warning", "Fail to fsync AOF directory %s." % self.path(name))
                return False
            return True
        finally:
            os.close(fd)

    def persist_manifest(self, am):
        if not am.dirty:
            return True
        if self.write_manifest(am.to_string()):
            am.dirty = False
            return True
        return False

    def load_manifest_from_disk(self):
        """aofLoadManifestFromDisk (exits on a corrupt manifest)."""
        self.manifest = Manifest()
        d = self.dirpath()
        if not os.path.isdir(d):
            self.srv.log("debug", "The AOF directory %s doesn't exist" % self.values["appenddirname"])
            return
        name = self.values["appendfilename"] + ".manifest"
        p = self.path(name)
        if not os.path.exists(p):
            self.srv.log("debug", "The AOF manifest file %s doesn't exist" % name)
            return
        try:
            with open(p, "rb") as f:
                text = f.read()
        except OSError as e:
            self.log("warning", "Fatal error: can't open the AOF manifest file %s for reading: "
                     "%s" % (p, os.strerror(e.errno)))
            raise FatalAofError("manifest") from None
        self.manifest = parse_manifest(text, self.log)

    def del_history_files(self):
        """aofDelHistoryFiles."""
        am = self.manifest
        if am is None or self.values["aof-disable-auto-gc"] or not am.history:
            return True
        for ai in am.history:
            self.log("notice", "Removing the history file %s in the background" % ai.name)
            _unlink(self.path(ai.name))
        am.history = []
        am.dirty = True
        return self.persist_manifest(am)

    def del_temp_incr_file(self):
        name = self.temp_incr_name()
        self.log("notice", "Removing the temp incr aof file %s in the background" % name)
        _unlink(self.path(name))

    def ensure_dir(self):
        try:
            os.makedirs(self.dirpath(), exist_ok=True)
            return True
        except OSError as e:
            self.log("warning", "Can't open or create append-only dir %s: %s"
                     % (self.values["appenddirname"], os.strerror(e.errno)))
            return False

    def file_size(self, name):
        """getAppendOnlyFileSize -> (size, status)."""
        try:
            return os.stat(self.path(name)).st_size, AOF_OK
        except OSError as e:
            self.log("warning", "Unable to obtain the AOF file %s length. stat: %s"
                     % (name, os.strerror(e.errno)))
            return 0, (AOF_NOT_EXIST if e.errno == errno.ENOENT else AOF_OPEN_ERR)

    # -- feeding (feedAppendOnlyFile) ---------------------------------------------------
    def feed(self, dbid, argv):
        a0 = argv[0]
        if (len(a0) == 7 or len(a0) == 8) and a0.lower() in _REPL_ONLY:
            return
        if self.state == AOF_WAIT_REWRITE and not self.child_is_aof():
            self.selected_db = dbid     # Redis tracks it even when not appending
            return
        buf = self.buf
        was_empty = not buf
        if self.timestamps:
            now = int(time.time())
            if self.cur_timestamp < now:
                self.cur_timestamp = now
                buf += b"#TS:%d\r\n" % now
        if dbid != self.selected_db:
            s = b"%d" % dbid
            buf += b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n" % (len(s), s)
            self.selected_db = dbid
        n = len(argv)
        buf += _MULTIBULK[n] if n < 64 else b"*%d\r\n" % n
        for a in argv:
            n = len(a)
            buf += _BULK[n] if n < 1024 else b"$%d\r\n" % n
            buf += a
            buf += b"\r\n"
        if was_empty:
            srv = self.srv
            srv.before_reply = self._before_reply
            if not self._soon and srv.loop is not None:
                self._soon = True
                srv.loop.call_soon(self._before_sleep)

    def _before_reply(self):
        self.flush(False)

    def _before_sleep(self):
        self._soon = False
        if self.state != AOF_OFF:
            self.flush(False)

    # -- writing (flushAppendOnlyFile) --------------------------------------------------
    def fsync_in_progress(self):
        return self._bio is not None and self._bio.pending(self) != 0

    def flush(self, force):
        buf = self.buf
        mode = self.fsync_mode
        sync_in_progress = False
        if not buf:
            self.srv.before_reply = None
            if self.fd == -1:
                return
            if (mode == "everysec" and self.last_incr_fsync_offset != self.last_incr_size
                    and int(time.time()) > self.last_fsync):
                sync_in_progress = self.fsync_in_progress()
                if sync_in_progress:
                    return
            elif not (mode == "always"
                      and self.last_incr_fsync_offset != self.last_incr_size):
                return
            self._try_fsync(sync_in_progress)
            return
        if self.fd == -1:
            return
        if mode == "everysec":
            sync_in_progress = self.fsync_in_progress()
            if not force and sync_in_progress:
                now = int(time.time())
                if self.flush_postponed_start == 0:
                    self.flush_postponed_start = now
                    return
                if now - self.flush_postponed_start < 2:
                    return
                self.delayed_fsync += 1
                self.log("notice", "Asynchronous AOF fsync is taking too long (disk is busy?). "
                         "Writing the AOF buffer without waiting for fsync to complete, this "
                         "may slow down Redis.")
        if self.flush_sleep:
            time.sleep(self.flush_sleep / 1000000.0)
        t0 = time.monotonic()
        nwritten, err = _write_some(self.fd, buf)
        ms = int((time.monotonic() - t0) * 1000)
        if ms:
            srv = self.srv
            if sync_in_progress:
                srv.latency_add("aof-write-pending-fsync", ms)
            elif self.child_active():
                srv.latency_add("aof-write-active-child", ms)
            else:
                srv.latency_add("aof-write-alone", ms)
            srv.latency_add("aof-write", ms)
        self.flush_postponed_start = 0
        if nwritten != len(buf):
            now = int(time.time())
            can_log = now - self.last_write_error_log > WRITE_LOG_ERROR_RATE
            if can_log:
                self.last_write_error_log = now
            if nwritten == -1:
                if can_log:
                    self.log("warning", "Error writing to the AOF file: %s" % os.strerror(err))
                self.last_write_errno = err
            else:
                if can_log:
                    self.log("warning", "Short write while writing to the AOF file: (nwritten=%d,"
                             " expected=%d)" % (nwritten, len(buf)))
                try:
                    os.ftruncate(self.fd, self.last_incr_size)
                    nwritten = -1
                except OSError as e:
                    if can_log:
                        self.log("warning", "Could not remove short write from the append-only "
                                 "file.  Redis may refuse to load the AOF the next time it "
                                 "starts.  ftruncate: %s" % os.strerror(e.errno))
                self.last_write_errno = errno.ENOSPC
            if mode == "always":
                self.log("warning", "Can't recover from AOF write error when the AOF fsync "
                         "policy is 'always'. Exiting...")
                os._exit(1)
            self.last_write_status_ok = False
            self._update_write_check()
            if nwritten > 0:
                self.current_size += nwritten
                self.last_incr_size += nwritten
                del buf[:nwritten]
            return
        if not self.last_write_status_ok:
            self.log("warning", "AOF write error looks solved, Redis can write again.")
            self.last_write_status_ok = True
            self._update_write_check()
        self.current_size += nwritten
        self.last_incr_size += nwritten
        self.buf = bytearray()
        self.srv.before_reply = None
        self._try_fsync(sync_in_progress)

    def _try_fsync(self, sync_in_progress):
        if self.values["no-appendfsync-on-rewrite"] and self.child_active():
            return
        mode = self.fsync_mode
        if mode == "always":
            t0 = time.monotonic()
            try:
                os.fdatasync(self.fd)
            except OSError as e:
                self.log("warning", "Can't persist AOF for fsync error when the AOF fsync policy "
                         "is 'always': %s. Exiting..." % os.strerror(e.errno))
                os._exit(1)
            ms = int((time.monotonic() - t0) * 1000)
            if ms:
                self.srv.latency_add("aof-fsync-always", ms)
            self.last_incr_fsync_offset = self.last_incr_size
            self.last_fsync = int(time.time())
        elif mode == "everysec":
            now = int(time.time())
            if now > self.last_fsync:
                if not sync_in_progress:
                    self.background_fsync(self.fd)
                    self.last_incr_fsync_offset = self.last_incr_size
                self.last_fsync = now

    def background_fsync(self, fd, close=False):
        if self._bio is None:
            self._bio = _Bio.get()
        self._bio.submit(self, fd, close)

    def close_fd(self, fd):
        """aof_background_fsync_and_close."""
        self.background_fsync(fd, close=True)

    # -- MISCONF (writeCommandsDeniedByDiskError) -----------------------------------------
    def write_error(self):
        """The errno that denies writes, or 0."""
        if self.state == AOF_OFF:
            return 0
        if not self.last_write_status_ok:
            return self.last_write_errno or errno.EIO
        if self.bio_fsync_errno:
            self.last_write_errno = self.bio_fsync_errno
            return self.bio_fsync_errno
        return 0

    def _update_write_check(self):
        srv = self.srv
        want = not self.last_write_status_ok or bool(self.bio_fsync_errno)
        if want != self._check_on:
            from ..commands.persistence import set_disk_check
            set_disk_check(srv, self._state_check, want)
            self._check_on = want

    def _state_check(self, c, cmd, argv):
        err = self.write_error()
        if not err:
            if self.last_write_status_ok and not self.bio_fsync_errno:
                self.srv.loop.call_soon(self._update_write_check)
            return None
        from ..commands.persistence import disk_error_reply
        return disk_error_reply(c, cmd, "MISCONF Errors writing to the AOF file: %s"
                                % os.strerror(err))

    # -- switching on and off -----------------------------------------------------------
    def _attach(self):
        srv = self.srv
        if self.feed not in srv.propagate_targets:
            srv.propagate_targets.append(self.feed)

    def _detach(self):
        srv = self.srv
        if self.feed in srv.propagate_targets:
            srv.propagate_targets.remove(self.feed)
        srv.before_reply = None

    def stop(self):
        """stopAppendOnly (CONFIG SET appendonly no)."""
        self.flush(True)
        if self.fd != -1:
            try:
                os.fsync(self.fd)
                self.last_fsync = int(time.time())
            except OSError as e:
                self.log("warning", "Fail to fsync the AOF file: %s" % os.strerror(e.errno))
            self.close_fd(self.fd)
        self.fd = -1
        self.selected_db = -1
        self.state = AOF_OFF
        self._detach()
        self.rewrite_scheduled = False
        self.last_incr_size = 0
        self.last_incr_fsync_offset = 0
        self.kill_child()
        self.buf = bytearray()
        self._update_write_check()

    def start(self):
        """startAppendOnly (CONFIG SET appendonly yes); False on failure."""
        self.state = AOF_WAIT_REWRITE
        self._attach()
        srv = self.srv
        if self.child_active() and not self.child_is_aof():
            self.rewrite_scheduled = True
            self.log("warning", "AOF was enabled but there is already another background "
                     "operation. An AOF background was scheduled to start when possible.")
        elif srv.prop_batch is not None:
            self.rewrite_scheduled = True
            self.log("warning", "AOF was enabled during a transaction. An AOF background was "
                     "scheduled to start when possible.")
        else:
            if self.child_is_aof():
                self.log("warning", "AOF was enabled but there is already an AOF rewriting in "
                         "background. Stopping background AOF and starting a rewrite now.")
                self.kill_child()
            if not self.rewrite_background():
                self.state = AOF_OFF
                self._detach()
                self.log("warning", "Redis needs to enable the AOF but can't trigger a background"
                         " AOF rewrite operation. Check the above logs for more info about the"
                         " error.")
                return False
        self.last_fsync = int(time.time())
        if self.bio_fsync_errno:
            self.log("warning", "AOF reopen, just ignore the AOF fsync error in bio job")
            self.bio_fsync_errno = 0
        if not self.last_write_status_ok:
            self.log("warning", "AOF reopen, just ignore the last error.")
            self.last_write_status_ok = True
        self._update_write_check()
        return True

    def open_new_incr(self):
        """openNewIncrAofForAppend."""
        if self.state == AOF_OFF:
            return True
        temp_am = None
        if self.state == AOF_WAIT_REWRITE:
            name = self.temp_incr_name()
        else:
            temp_am = self.manifest.dup()
            name = self.new_incr_name(temp_am)
        try:
            newfd = os.open(self.path(name), os.O_WRONLY | os.O_TRUNC | os.O_CREAT | os.O_APPEND,
                            0o644)
        except OSError as e:
            self.log("warning", "Can't open the append-only file %s: %s"
                     % (name, os.strerror(e.errno)))
            return False
        if temp_am is not None and not self.persist_manifest(temp_am):
            os.close(newfd)
            return False
        self.log("notice", "Creating AOF incr file %s on background rewrite" % name)
        if self.fd != -1:
            self.close_fd(self.fd)
            self.last_fsync = int(time.time())
        self.fd = newfd
        self.last_incr_size = 0
        self.last_incr_fsync_offset = 0
        if temp_am is not None:
            self.manifest = temp_am
        return True

    # -- rewriting ----------------------------------------------------------------------
    def rewrite_limited(self):
        """aofRewriteLimited: after 3 failures in a row, wait 1, 2, 4... 60 minutes."""
        if self.consecutive_failures < REWRITE_LIMIT_THRESHOLD:
            self.next_delay_minutes = 0
            self.next_rewrite_time = 0
            return False
        now = int(time.time())
        if self.next_rewrite_time:
            if now < self.next_rewrite_time:
                return True
            self.next_rewrite_time = 0
            return False
        self.next_delay_minutes = min(REWRITE_LIMIT_MAX_MINUTES,
                                      self.next_delay_minutes * 2 or 1)
        self.next_rewrite_time = now + self.next_delay_minutes * 60
        self.log("warning", "Background AOF rewrite has repeatedly failed and triggered the "
                 "limit, will retry in %d minutes" % self.next_delay_minutes)
        return True

    def rewrite_background(self):
        """rewriteAppendOnlyFileBackground: fork a child writing the new base."""
        srv = self.srv
        if self.child_active():
            return False
        if not self.ensure_dir():
            self.lastbgrewrite_ok = False
            return False
        self.selected_db = -1
        self.flush(True)
        if not self.open_new_incr():
            self.lastbgrewrite_ok = False
            return False
        self.stat_rewrites += 1
        info_r, info_w = os.pipe()       # child info (childinfo.c): progress, CoW
        rdb.child_started(srv)
        t0 = time.monotonic()
        try:
            pid = children.fork(srv)
        except OSError as e:
            os.close(info_r)
            os.close(info_w)
            self.lastbgrewrite_ok = False
            self.log("warning", "Can't rewrite append only file in background: fork: %s"
                     % os.strerror(e.errno))
            return False
        if pid == 0:
            code = 1
            try:
                os.close(info_r)
                rdb.child_reporter = rdb.ChildReporter(srv, info_w, "AOF rewrite")
                tmp = self.tmp_rewrite_path(os.getpid())
                if self.rewrite_to_file(tmp):
                    self.log("notice", "Successfully created the temporary AOF base file %s"
                             % os.path.basename(tmp))
                    rdb.child_reporter.send(rdb.CHILD_INFO_AOF_COW, 0)
                    code = 0
            except BaseException:   # noqa: BLE001 - the child reports by its exit status
                code = 1
            finally:
                os._exit(code)
        srv.stat_fork_time = int((time.monotonic() - t0) * 1000000)
        srv.stat_total_forks = getattr(srv, "stat_total_forks", 0) + 1
        os.close(info_w)
        os.set_blocking(info_r, False)
        self.child_info_fd = info_r
        srv.child_type = "aof"
        srv.child_pid = pid
        self.log("notice", "Background append only file rewriting started by pid %d" % pid)
        self.rewrite_scheduled = False
        self.rewrite_time_start = int(time.time())
        return True

    def rewrite_to_file(self, filename):
        """rewriteAppendOnlyFile: write the base to a temp file, fsync, rename to filename."""
        tmpfile = os.path.join(self.values["dir"], "temp-rewriteaof-%d.aof" % os.getpid())
        try:
            f = open(tmpfile, "wb")
        except OSError as e:
            self.log("warning", "Opening the temp file for AOF rewrite in rewriteAppendOnlyFile():"
                     " %s" % os.strerror(e.errno))
            return False
        try:
            if self.values["aof-use-rdb-preamble"]:
                rdb.write_rdb(self.srv, f, aof_base=True)
            else:
                self.write_commands(f)
            f.flush()
            os.fsync(f.fileno())
            f.close()
            os.rename(tmpfile, filename)
            return True
        except Exception as e:  # noqa: BLE001 - reported, the caller fails the rewrite
            msg = os.strerror(e.errno) if isinstance(e, OSError) and e.errno else str(e)
            self.log("warning", "Write error writing append only file on disk: %s" % msg)
            try:
                f.close()
            except OSError:
                pass
            _unlink(tmpfile)
            return False

    def write_commands(self, f):
        """rewriteAppendOnlyFileRio: the commands that rebuild the dataset."""
        srv = self.srv
        v = self.values
        write = f.write
        incremental = v["aof-rewrite-incremental-fsync"]
        written = [0]
        delay = v["rdb-key-save-delay"]

        def emit(argv):
            parts = [b"*%d\r\n" % len(argv)]
            for a in argv:
                parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
            data = b"".join(parts)
            write(data)
            if incremental:
                written[0] += len(data)
                if written[0] >= AUTOSYNC_BYTES:
                    f.flush()
                    os.fsync(f.fileno())
                    written[0] = 0

        if v["aof-timestamp-enabled"]:
            write(b"#TS:%d\r\n" % int(time.time()))
        # rewriteFunctions: the libraries the RDB would carry (rdb.FUNCTION_SAVERS)
        from .rdb import FUNCTION_SAVERS
        for fn in FUNCTION_SAVERS:
            for code in fn(srv) or ():
                emit([b"FUNCTION", b"LOAD", code])
        reporter = rdb.child_reporter
        key_count = 0
        for db in srv.dbs:
            if not db.data:
                continue
            emit([b"SELECT", b"%d" % db.id])
            expires = db.expires
            for key, value in list(db.data.items()):
                for argv in rewrite_object(key, value):
                    emit(argv)
                when = expires.get(key)
                if when is not None:
                    emit([b"PEXPIREAT", key, b"%d" % when])
                if delay:
                    _debug_delay(delay)
                key_count += 1
                if reporter is not None and not key_count & 1023:
                    reporter.progress(key_count)     # (about once a second)

    def kill_child(self):
        """killAppendOnlyChild."""
        srv = self.srv
        if not self.child_is_aof():
            return
        pid = srv.child_pid
        self.log("notice", "Killing running AOF rewrite child: %d" % pid)
        children.kill(pid)
        children.wait(pid)      # (as Redis: the loop waits for this one)
        self.close_child_info()
        self.remove_temp_files(pid)
        srv.child_type = None
        srv.child_pid = -1
        self.rewrite_time_start = -1

    def close_child_info(self):
        """The child is gone: its last reports, then resetChildState's child info part."""
        rdb.read_child_info(self.srv, self.child_info_fd)
        os.close(self.child_info_fd)
        self.child_info_fd = -1
        rdb.child_finished(self.srv)

    def remove_temp_files(self, pid):
        d = self.values["dir"]
        _unlink(os.path.join(d, "temp-rewriteaof-bg-%d.aof" % pid))
        _unlink(os.path.join(d, "temp-rewriteaof-%d.aof" % pid))

    def check_child_done(self):
        """checkChildrenDone for the AOF child (waitpid WNOHANG)."""
        srv = self.srv
        pid = srv.child_pid
        rdb.read_child_info(srv, self.child_info_fd)
        status = children.poll(pid)
        if status is None:
            return
        self.close_child_info()
        self.rewrite_done(*status, pid)
        srv.child_type = None
        srv.child_pid = -1

    def rewrite_done(self, exitcode, bysignal, pid):
        """backgroundRewriteDoneHandler."""
        t_start = time.monotonic()
        if children.log_done(self.srv, "aof", exitcode, bysignal):
            self._install_rewrite(pid, t_start)
        elif bysignal != signal.SIGUSR1:     # (SIGUSR1 kills without an error condition)
            self.lastbgrewrite_ok = False
            self.consecutive_failures += 1
        self.remove_temp_files(pid)
        if self.state == AOF_WAIT_REWRITE:
            self.buf = bytearray()
            self.srv.before_reply = None
            self.del_temp_incr_file()
        self.rewrite_time_last = int(time.time()) - self.rewrite_time_start
        self.rewrite_time_start = -1
        if self.state == AOF_WAIT_REWRITE:
            self.rewrite_scheduled = True

    def _install_rewrite(self, pid, t_start):
        tmpfile = self.tmp_rewrite_path(pid)
        temp_am = self.manifest.dup()
        new_base = self.new_base_name(temp_am)
        new_base_path = self.path(new_base)
        t0 = time.monotonic()
        try:
            os.rename(tmpfile, new_base_path)
        except OSError as e:
            self.log("warning", "Error trying to rename the temporary AOF base file %s into %s: %s"
                     % (os.path.basename(tmpfile), new_base_path, os.strerror(e.errno)))
            self.lastbgrewrite_ok = False
            self.consecutive_failures += 1
            return
        self._latency("aof-rename", t0)
        self.log("notice", "Successfully renamed the temporary AOF base file %s into %s"
                 % (os.path.basename(tmpfile), new_base))
        new_incr_path = None
        if self.state == AOF_WAIT_REWRITE:
            temp_incr = self.temp_incr_name()
            temp_incr_path = self.path(temp_incr)
            new_incr = self.new_incr_name(temp_am)
            new_incr_path = self.path(new_incr)
            t0 = time.monotonic()
            try:
                os.rename(temp_incr_path, new_incr_path)
            except OSError as e:
                self.log("warning", "Error trying to rename the temporary AOF incr file %s into "
                         "%s: %s" % (temp_incr_path, new_incr_path, os.strerror(e.errno)))
                _unlink(new_base_path)
                self.lastbgrewrite_ok = False
                self.consecutive_failures += 1
                return
            self._latency("aof-rename", t0)
            self.log("notice", "Successfully renamed the temporary AOF incr file %s into %s"
                     % (temp_incr, new_incr))
        self.mark_rewritten_incr_as_history(temp_am)
        if not self.persist_manifest(temp_am):
            _unlink(new_base_path)
            if new_incr_path is not None:
                _unlink(new_incr_path)
            self.lastbgrewrite_ok = False
            self.consecutive_failures += 1
            return
        self.manifest = temp_am
        if self.state != AOF_OFF:
            self.current_size = self.file_size(new_base)[0] + self.last_incr_size
            self.rewrite_base_size = self.current_size
        self.del_history_files()
        self.lastbgrewrite_ok = True
        self.consecutive_failures = 0
        self.log("notice", "Background AOF rewrite finished successfully")
        if self.state == AOF_WAIT_REWRITE:
            self.state = AOF_ON
        self.srv.log_verbose("Background AOF rewrite signal handler took %dus"
                             % int((time.monotonic() - t_start) * 1000000))

    def _latency(self, event, t0):
        ms = int((time.monotonic() - t0) * 1000)
        if ms:
            self.srv.latency_add(event, ms)

    # -- cron (serverCron's AOF parts) --------------------------------------------------
    def cron(self, srv):
        if not self.child_active() and self.rewrite_scheduled and not self.rewrite_limited():
            self.rewrite_background()
        if self.child_active():
            if self.child_is_aof():
                self.check_child_done()
        elif (self.state == AOF_ON and self.values["auto-aof-rewrite-percentage"]
              and self.current_size > self.values["auto-aof-rewrite-min-size"]):
            base = self.rewrite_base_size or 1
            growth = (self.current_size * 100 // base) - 100
            if growth >= self.values["auto-aof-rewrite-percentage"] and not self.rewrite_limited():
                self.log("notice", "Starting automatic rewriting of AOF on %d%% growth" % growth)
                self.rewrite_background()
        if self.state != AOF_OFF:
            # beforeSleep's flush (fsync of an idle everysec AOF, postponed writes, errors)
            self.flush(False)
            if self.bio_fsync_errno or self._check_on:
                self._update_write_check()

    # -- shutdown (finishShutdown, through commands/persistence.py) -----------------------
    def shutdown(self, force):
        """Kill the rewrite child and fsync; True when the server can't exit."""
        if self.child_is_aof():
            if self.state == AOF_WAIT_REWRITE:
                if force:
                    self.log("warning", "Writing initial AOF. Exit anyway.")
                else:
                    self.log("warning", "Writing initial AOF, can't exit.")
                    return True
            self.log("warning", "There is a child rewriting the AOF. Killing it!")
            self.kill_child()
        if self.state != AOF_OFF:
            self.log("notice", "Calling fsync() on the AOF file.")
            self.flush(True)
            if self.fd != -1:
                try:
                    os.fsync(self.fd)
                except OSError as e:
                    self.log("warning", "Fail to fsync the AOF file: %s." % os.strerror(e.errno))
        return None

    # -- start-up -----------------------------------------------------------------------
    def open_on_server_start(self):
        """aofOpenIfNeededOnServerStart."""
        if self.state != AOF_ON:
            return
        if not self.ensure_dir():
            raise FatalAofError("dir")
        am = self.manifest
        incr_len = len(am.incr)
        if am.base is None and not incr_len:
            base_name = self.new_base_name(am)
            if not self.rewrite_to_file(self.path(base_name)):
                raise FatalAofError("base")
            self.log("notice", "Creating AOF base file %s on server start" % base_name)
        name = self.last_incr_name(am)
        try:
            self.fd = os.open(self.path(name), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as e:
            self.log("warning", "Can't open the append-only file %s: %s"
                     % (name, os.strerror(e.errno)))
            raise FatalAofError("open") from None
        if not self.persist_manifest(am):
            raise FatalAofError("manifest")
        self.last_incr_size = self.file_size(name)[0]
        self.last_incr_fsync_offset = self.last_incr_size
        if incr_len:
            self.log("notice", "Opening AOF incr file %s on server start" % name)
        else:
            self.log("notice", "Creating AOF incr file %s on server start" % name)
        self._attach()

    def upgrade_prepare(self, am):
        """aofUpgradePrepare: move a legacy appendonly.aof into the AOF directory."""
        fname = self.values["appendfilename"]
        if not self.ensure_dir():
            raise FatalAofError("dir")
        am.base = AofInfo(fname, 1, TYPE_BASE)
        am.base_seq = 1
        am.dirty = True
        if not self.persist_manifest(am):
            raise FatalAofError("manifest")
        try:
            os.rename(os.path.join(self.values["dir"], fname), self.path(fname))
        except OSError as e:
            self.log("warning", "Error trying to move the old AOF file %s into dir %s: %s"
                     % (fname, self.values["appenddirname"], os.strerror(e.errno)))
            raise FatalAofError("upgrade") from None
        self.log("notice", "Successfully migrated an old-style AOF file (%s) into the AOF "
                 "directory (%s)." % (fname, self.values["appenddirname"]))

    def load_files(self):
        """loadAppendOnlyFiles -> AOF_* status."""
        am = self.manifest
        v = self.values
        fname = v["appendfilename"]
        if os.path.isfile(os.path.join(v["dir"], fname)):
            if (not os.path.isdir(self.dirpath())
                    or (am.base is None and not am.incr)
                    or (am.base is not None and not am.incr and am.base.name == fname
                        and not os.path.exists(self.path(fname)))):
                self.upgrade_prepare(am)
        if am.base is None and not am.incr:
            return AOF_NOT_EXIST
        files = ([am.base] if am.base is not None else []) + list(am.incr)
        total = 0
        for ai in files:
            size, status = self.file_size(ai.name)
            if status != AOF_OK:
                return AOF_FAILED if status == AOF_NOT_EXIST else status
            total += size
        if total == 0:
            return AOF_EMPTY
        base_size = 0
        ret = AOF_OK
        srv = self.srv
        loading.start(srv, total)
        try:
            for n, ai in enumerate(files):
                last = n == len(files) - 1
                is_base = ai.type == TYPE_BASE
                if is_base:
                    base_size = self.file_size(ai.name)[0]
                start = time.monotonic()
                ret = self.load_single(ai.name)
                if ret == AOF_OK or (ret == AOF_TRUNCATED and last):
                    self.log("notice", "DB loaded from %s file %s: %.3f seconds"
                             % ("base" if is_base else "incr", ai.name,
                                time.monotonic() - start))
                if ret == AOF_EMPTY and not is_base:
                    ret = AOF_OK
                if ret == AOF_TRUNCATED and not last:
                    ret = AOF_FAILED
                    self.log("warning", "Fatal error: the truncated file is not the last file")
                if ret in (AOF_OPEN_ERR, AOF_FAILED):
                    return ret
        finally:
            loading.stop(srv)
        self.current_size = total
        self.rewrite_base_size = base_size
        return ret

    def load_single(self, filename):
        """loadSingleAppendOnlyFile: replay one file through a fake client."""
        path = self.path(filename)
        try:
            f = open(path, "rb")
        except OSError as e:
            if e.errno != errno.ENOENT:
                self.log("warning", "Fatal error: can't open the append log file %s for reading:"
                         " %s" % (filename, os.strerror(e.errno)))
                return AOF_OPEN_ERR
            self.log("warning", "The append log file %s doesn't exist: %s"
                     % (filename, os.strerror(e.errno)))
            return AOF_NOT_EXIST
        srv = self.srv
        saved_targets, saved_state = srv.propagate_targets, self.state
        srv.propagate_targets = []      # loading never propagates (shouldPropagate)
        try:
            with f:
                if os.fstat(f.fileno()).st_size == 0:
                    return AOF_EMPTY
                # off while replaying, as Redis (INFO's aof_enabled:0, no fsync at a
                # shutdown meanwhile)
                self.state = AOF_OFF
                start = 0
                if f.read(5) == b"REDIS":
                    old_style = filename == self.values["appendfilename"]
                    self.log("notice", "Reading RDB preamble from AOF file..." if old_style
                             else "Reading RDB base file on AOF loading...")
                    f.seek(0)
                    try:
                        start = _load_rdb_preamble(srv, f)
                    except Exception as e:  # noqa: BLE001 - a corrupt base stops loading
                        if old_style:
                            self.log("warning", "Error reading the RDB preamble of the AOF file "
                                     "%s, AOF loading aborted" % filename)
                        else:
                            self.log("warning", "Error reading the RDB base file %s, AOF loading "
                                     "aborted" % filename)
                        self.log("warning", "%s: %s" % (filename, e))
                        return AOF_FAILED
                    srv.loading_loaded_bytes = start     # loadingAbsProgress
                    if old_style:
                        self.log("notice", "Reading the remaining AOF tail...")
                f.seek(start)
                data = f.read()
            return self._replay(filename, path, data, start)
        finally:
            srv.propagate_targets = saved_targets
            self.state = saved_state
            srv.ready_keys.clear()

    def _replay(self, filename, path, data, base):
        from ..client import Client
        srv = self.srv
        commands = srv.commands     # lookupCommand: this server's table (rename-command)
        fake = Client(srv)
        fake.id = -1                    # CLIENT_ID_AOF
        fake.must_obey = True
        fake.deny_blocking = True
        fake.authenticated = True
        fake.checks = False
        fake.addr = fake.laddr = ""
        truncated_ok = self.values["aof-load-truncated"]
        n = len(data)
        i = 0
        valid_up_to = base
        valid_before_multi = base
        err_at = None
        kind = None     # None: EOF reached cleanly; "eof": unexpected end; "fmt"; "fail"
        loops = 0
        events = getattr(srv, "loading_yield", None)
        reported = base
        while True:
            if not loops % 1024:    # progress, and serve the clients from time to time
                srv.loading_loaded_bytes += base + i - reported
                reported = base + i
                if events is not None:
                    events()
            loops += 1
            if i >= n:
                break
            j = data.find(b"\n", i, i + 1023)
            j = min(i + 1023, n) if j < 0 else j + 1
            line = data[i:j]
            cmd_start = i
            i = j
            if line[0] == 35:            # '#': annotation
                continue
            if line[0] != 42:            # '*'
                kind, err_at = "fmt", cmd_start
                break
            if len(line) == 1:
                kind = "eof"
                break
            argc = _atoll(line[1:])
            if argc < 1:
                kind, err_at = "fmt", cmd_start
                break
            argv = []
            for _ in range(argc):
                if i >= n:
                    kind = "eof"
                    break
                j = data.find(b"\n", i, i + 1023)
                j = min(i + 1023, n) if j < 0 else j + 1
                line = data[i:j]
                if line[0] != 36:        # '$'
                    kind, err_at = "fmt", cmd_start
                    break
                i = j
                ln = _atoll(line[1:])
                if ln < 0:
                    kind, err_at = "fmt", cmd_start
                    break
                if i + ln > n:
                    kind = "eof"
                    break
                argv.append(data[i:i + ln])
                i += ln
                if i + 2 > n:
                    kind = "eof"
                    break
                i += 2
            if kind is not None:
                break
            cmd = commands.get(argv[0].lower())
            if cmd is not None and cmd.subcommands is not None and len(argv) > 1:
                cmd = cmd.subcommands.get(argv[1].lower())
            if cmd is None or cmd.handler is None:
                self.log("warning", "Unknown command '%s' reading the append only file %s"
                         % (argv[0].decode("utf-8", "replace"), filename))
                return AOF_FAILED
            name = cmd.name
            if name == "multi":
                valid_before_multi = valid_up_to
            try:
                if fake.multi is not None and name != "exec":
                    fake.multi.append((cmd, argv))
                elif name == "exec" and fake.multi is not None:
                    queued = fake.multi
                    fake.multi = None
                    fake.in_exec = True
                    try:
                        for qcmd, qargv in queued:
                            _run(fake, qcmd, qargv)
                    finally:
                        fake.in_exec = False
                else:
                    _run(fake, cmd, argv)
            except Exception as e:  # noqa: BLE001 - a command the server cannot run
                self.log("warning", "Error executing '%s' at offset %d of the append only file"
                         " %s: %r" % (argv[0].decode("utf-8", "replace"), base + cmd_start,
                                      filename, e))
                return AOF_FAILED
            if truncated_ok:
                valid_up_to = base + i
        if kind is None and fake.multi is not None:
            self.log("warning", "Revert incomplete MULTI/EXEC transaction in AOF file %s"
                     % filename)
            valid_up_to = valid_before_multi
            kind = "eof"
        if kind is None:
            return AOF_OK
        if kind == "fmt":
            self.log("warning", "Bad file format reading the append only file %s: make a backup "
                     "of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"
                     % filename)
            return AOF_FAILED
        # unexpected end of file
        if truncated_ok:
            self.log("warning", "!!! Warning: short read while loading the AOF file %s!!!"
                     % filename)
            self.log("warning", "!!! Truncating the AOF %s at offset %d !!!"
                     % (filename, valid_up_to))
            try:
                os.truncate(path, valid_up_to)
            except OSError as e:
                self.log("warning", "Error truncating the AOF file %s: %s"
                         % (filename, os.strerror(e.errno)))
            else:
                self.log("warning", "AOF %s loaded anyway because aof-load-truncated is enabled"
                         % filename)
                return AOF_TRUNCATED
        self.log("warning", "Unexpected end of file reading the append only file %s. You can: "
                 "1) Make a backup of your AOF file, then use ./redis-check-aof --fix "
                 "<filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' "
                 "configuration option to yes and restart the server." % filename)
        return AOF_FAILED

    def load_at_startup(self):
        """loadDataFromDisk (AOF part) + aofOpenIfNeededOnServerStart + aofDelHistoryFiles."""
        self.load_manifest_from_disk()
        if self.state != AOF_ON:
            self.open_on_server_start()
            self.del_history_files()
            return
        start = time.monotonic()
        dirty = self.srv.dirty

        def load():
            ret = without_collector(self.load_files)
            if ret in (AOF_FAILED, AOF_OPEN_ERR):
                return ret
            # the rest comes before any client is served again: a write then reaches
            # the opened AOF
            self.srv.dirty = dirty
            if ret != AOF_NOT_EXIST:
                self.log("notice", "DB loaded from append only file: %.3f seconds"
                         % (time.monotonic() - start))
            self.open_on_server_start()
            self.del_history_files()
            return ret

        if loading.run_at_startup(self.srv, load) in (AOF_FAILED, AOF_OPEN_ERR):
            raise FatalAofError("load")

    def debug_loadaof(self):
        """DEBUG LOADAOF."""
        srv = self.srv
        if self.state == AOF_ON:
            self.flush(True)
        _empty_data(srv)
        self.load_manifest_from_disk()
        self.del_history_files()
        ret = without_collector(self.load_files)
        if ret not in (AOF_OK, AOF_EMPTY):
            self.log("warning", "Fatal error loading the AOF by DEBUG LOADAOF, exiting")
            os._exit(1)
        srv.dirty = 0
        self.log("warning", "Append Only File loaded by DEBUG LOADAOF")

    # -- INFO ---------------------------------------------------------------------------
    def info_fields(self):
        now = int(time.time())
        writing_ok = self.last_write_status_ok and not self.bio_fsync_errno
        f = {
            "aof_enabled": int(self.state != AOF_OFF),
            "aof_rewrite_in_progress": int(self.child_is_aof()),
            "aof_rewrite_scheduled": int(self.rewrite_scheduled),
            "aof_last_rewrite_time_sec": self.rewrite_time_last,
            "aof_current_rewrite_time_sec": (now - self.rewrite_time_start
                                             if self.child_is_aof() else -1),
            "aof_last_bgrewrite_status": "ok" if self.lastbgrewrite_ok else "err",
            "aof_rewrites": self.stat_rewrites,
            "aof_rewrites_consecutive_failures": self.consecutive_failures,
            "aof_last_write_status": "ok" if writing_ok else "err",
            "aof_last_cow_size": self.srv.stat_aof_cow_bytes,
        }
        extra = None
        if self.values["appendonly"]:
            extra = [
                ("aof_current_size", self.current_size),
                ("aof_base_size", self.rewrite_base_size),
                ("aof_pending_rewrite", int(self.rewrite_scheduled)),
                ("aof_buffer_length", len(self.buf)),
                ("aof_pending_bio_fsync", self._bio.pending(self) if self._bio else 0),
                ("aof_delayed_fsync", self.delayed_fsync),
            ]
        return f, extra


# -- helpers --------------------------------------------------------------------------------
def _run(fake, cmd, argv):
    try:
        cmd.handler(fake, argv)
    except CommandError:
        pass
    fake.out.clear()
    fake.prop_override = None


def _load_rdb_preamble(srv, f):
    """Load the RDB body at the start of f (rdbLoadRio with RDBFLAGS_AOF_PREAMBLE); returns
    the offset where the RDB ends."""
    from . import rdb
    rdb.load_rdb(srv, f, expire=False)     # keys already expired are kept, as Redis does
    return f.tell()


def _empty_data(srv):
    """emptyData(-1, EMPTYDB_NO_FLAGS) (DEBUG LOADAOF): every database emptied, watched
    keys touched and tracking clients invalidated (signalFlushedDb), the function libraries
    dropped. Unlike FLUSHALL it neither kills a BGSAVE child nor saves (keys.flush_hooks)."""
    for db in srv.dbs:
        db.clear()
    from ..scan import drop_cache
    drop_cache()
    tracking = getattr(srv, "tracking", None)
    if tracking is not None:
        tracking.flushed(srv, -1)
    from .rdb import FUNCTION_CLEARERS
    for clear in FUNCTION_CLEARERS:
        clear(srv)


def rewrite_object(key, value):
    """The commands that rebuild one value (rewriteListObject, rewriteSetObject...)."""
    if type(value) is bytes:
        yield [b"SET", key, value]
        return
    from .. import db as _db
    tname = _db.TYPE_NAMES.get(type(value))
    if tname == b"list":
        yield from _chunked(b"RPUSH", key, list(value))
    elif tname == b"set":
        members = list(value)
        if not getattr(value, "ht", True):
            members.sort(key=int)
        yield from _chunked(b"SADD", key, members)
    elif tname == b"zset":
        items = value.items()
        flat = []
        for m, s in items:
            flat.append(_fmt_score(s))
            flat.append(m)
        yield from _chunked(b"ZADD", key, flat, 2)
    elif tname == b"hash":
        flat = []
        for k, v in value.items():
            flat.append(k)
            flat.append(v)
        yield from _chunked(b"HMSET", key, flat, 2)
    elif tname == b"stream":
        yield from value.rewrite_commands(key)
    else:
        fn = getattr(value, "rewrite_commands", None)
        if fn is None:
            raise ValueError("Unknown object type")
        yield from fn(key)


def _chunked(name, key, flat, width=1):
    step = ITEMS_PER_CMD * width
    for i in range(0, len(flat), step):
        yield [name, key] + flat[i:i + step]


def _fmt_score(d):
    """rioWriteBulkDouble: %.17g."""
    return (b"%.17g" % d)


def _write_all(fd, data):
    mv = memoryview(data)
    while mv:
        try:
            n = os.write(fd, mv)
        except InterruptedError:
            continue
        mv = mv[n:]


def _write_some(fd, data):
    """aofWrite: (bytes written or -1, errno)."""
    mv = memoryview(data)
    total = 0
    while total < len(data):
        try:
            n = os.write(fd, mv[total:])
        except InterruptedError:
            continue
        except OSError as e:
            return (total if total else -1), e.errno
        total += n
    return total, 0


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        os.fsync(fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _debug_delay(usec):
    """debugDelay: sleep usec microseconds (negative: sleep 1 usec every -usec calls)."""
    if usec > 0:
        time.sleep(usec / 1000000.0)


# -- wiring ---------------------------------------------------------------------------------
def get(srv):
    a = getattr(srv, "aof", None)
    if a is None:
        a = srv.aof = Aof(srv)
    return a


def _server_init(srv):
    a = get(srv)
    if not hasattr(srv, "child_type"):
        srv.child_type = None
        srv.child_pid = -1
    cfg = srv.config

    def fsync_changed(v):
        a.fsync_mode = v

    def ts_changed(v):
        a.timestamps = v

    def appendonly_changed(v):
        if not v and a.state != AOF_OFF:
            a.stop()
        elif v and a.state == AOF_OFF:
            if not a.start():
                from ..config import ConfigError
                raise ConfigError("Unable to turn on AOF. Check server logs.")

    def gc_changed(v):
        if not v:
            a.del_history_files()

    cfg.on_change("appendfsync", fsync_changed)
    cfg.on_change("aof-timestamp-enabled", ts_changed)
    cfg.on_change("appendonly", appendonly_changed)
    cfg.on_change("aof-disable-auto-gc", gc_changed)
    srv.cron_hooks.append(a.cron)


def startup(srv):
    """cli start-up hook: load the AOF (it wins over the RDB when appendonly is yes)."""
    a = get(srv)
    if srv.config.values["appendonly"]:
        a.state = AOF_ON
    try:
        a.load_at_startup()
    except FatalAofError:
        a.state = AOF_OFF
        # exit(1) as Redis does: no waiting for other subsystems' threads
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(1)


hooks.server_init.append(_server_init)
