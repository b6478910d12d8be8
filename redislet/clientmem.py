"""Client memory: getClientMemoryUsage's model, client eviction (maxmemory-clients),
output buffer limits and the per-client cron (networking.c, server.c clientsCron).

What a client uses is counted as Redis counts it, in Redis's (jemalloc) sizes:

    tot-mem = omem + query buffer allocation + the client struct (768) + rbs
              + argv bytes + 8 * argc + multi state + pub/sub + tracking prefixes

- Query buffer (qbuf, qbuf-free): the parser's unparsed bytes. Redis allocates a 16k
  read buffer (20474 usable) on the first read, frees it after 2 s idle, and for a big
  bulk argument (>= 32k) makes room for exactly the argument; after it the buffer stays
  that large until the cron trims it (clientsCronResizeQueryBuffer). `Client.qb_big` holds
  that allocation, `qb_freed_at` when the cron freed the buffer.
- argv: the command being run, or the arguments of a partial multibulk parsed so far.
- Reply buffer (rbs, rbp): Redis's per-client 16k buffer, shrunk/grown by the cron from
  the peak of what one write cycle put in it (clientsCronResizeOutputBuffer); the peak is
  kept by Client.flush (`buf_peak`).
- Output (obl, oll, omem): what the socket did not take yet (the transport's buffer); its
  first rbs bytes stand for Redis's buffer, the rest for the reply list (omem: Redis
  counts its blocks' allocations, 20464 bytes each plus 40 of list overhead). Redis checks the output limits when a reply is appended, before
  anything is written: Client.flush checks the size of the write cycle plus what is still
  unsent against the limits before writing (so a client over its hard limit receives
  nothing of it), and the cron checks every client (soft limits without traffic).

Clients' memory is kept per type (stat_clients_type_memory) and, when client eviction is
on, per bucket (powers of two, 32k .. 8G, as client_mem_usage_buckets). It is updated for
every client by the cron (once a second in slices, as clientsCron), for a client whose
query buffer holds a partial command after a read, for a client with unsent output after
a write (the transport calls pause_writing while it holds data: `Client.wpaused`), and,
while client eviction is on, after every read of every client (Client.mem_live), as
updateClientMemUsageAndBucket after processInputBuffer. The sum of the normal, pub/sub and
master clients is part of used_memory (maxmemory.py). evictClients runs after those
updates and after CONFIG SET maxmemory-clients (as beforeSleep would): while the normal +
pub/sub total is at or over the limit, it frees clients from the largest bucket down.
"""
import time
from collections import deque

from . import hooks

CLIENT_STRUCT = 768            # zmalloc_size(client) in 7.0.15
REPLY_CHUNK = 16 * 1024        # PROTO_REPLY_CHUNK_BYTES: the initial reply buffer
REPLY_MIN = 1024               # PROTO_REPLY_MIN_BYTES
IOBUF = 16 * 1024              # PROTO_IOBUF_LEN
QB_INITIAL = 20474             # sdsalloc after sdsMakeRoomForNonGreedy(sdsempty(), 16k)
RESIZE_THRESHOLD = 32 * 1024   # PROTO_RESIZE_THRESHOLD
REPLY_BLOCK = 40               # sizeof(listNode) + sizeof(clientReplyBlock)
BLOCK_SIZE = 20464             # a reply list block: zmalloc_usable(16k + header) - header
WATCHED_KEY = 56               # sizeof(listNode) + sizeof(watchedKey)
MULTI_CMD = 24                 # sizeof(multiCmd)
BUCKET_MIN_LOG, BUCKET_MAX_LOG = 15, 33
NBUCKETS = 1 + BUCKET_MAX_LOG - BUCKET_MIN_LOG
TYPE_NORMAL, TYPE_SLAVE, TYPE_PUBSUB, TYPE_MASTER = 0, 1, 2, 3
CRON_MIN_ITERATIONS = 5
PEAK_SLOTS = 8                 # CLIENTS_PEAK_MEM_USAGE_SLOTS


def je_size(n):
    """jemalloc's usable size for a request of n bytes (4 size classes per doubling).
    (Also MEMORY USAGE's, commands/memory.py.)"""
    if n <= 8:
        return 8
    if n <= 128:
        return (n + 15) & ~15
    step = 1 << ((n - 1).bit_length() - 3)
    return (n + step - 1) & ~(step - 1)


def _sds_hdr(n):
    """The sds header size for a string of n bytes (sdsReqType, without type 5)."""
    if n < 256:
        return 3
    if n < 65536:
        return 5
    if n < (1 << 32):
        return 9
    return 17


def sds_alloc(n):
    """sdsalloc of a string made with room for n bytes (non-greedy)."""
    h = _sds_hdr(n)
    return je_size(n + h + 1) - h - 1


def sds_zmalloc(alloc):
    return je_size(alloc + _sds_hdr(alloc) + 1)


def client_type(c):
    """getClientType (MONITOR clients are normal)."""
    f = c.flags_extra
    if f:
        if "M" in f:
            return TYPE_MASTER
        if "S" in f:
            return TYPE_SLAVE
    return TYPE_PUBSUB if c.subscribed else TYPE_NORMAL


def _dict_slots(n):
    return 0 if not n else max(4, 1 << (n - 1).bit_length())


def pubsub_overhead(c):
    """pubsubMemOverhead."""
    n = len(c.channels)
    s = len(c.shard_channels)
    return (len(c.patterns) * 24 + n * 24 + _dict_slots(n) * 8
            + s * 24 + _dict_slots(s) * 8)


def multi_state(c):
    """(mstate.argv_len_sums, multiStateMemOverhead)."""
    mem = len(c.watched_keys) * WATCHED_KEY
    m = c.multi
    if not m:
        return 0, mem
    cache = c.multi_mem_cache
    if cache is None or cache[0] is not m or cache[1] > len(m):
        cache = c.multi_mem_cache = [m, 0, 0]
    n = len(m)
    if cache[1] < n:
        tot = cache[2]
        for _cmd, a in m[cache[1]:]:
            tot += sum(map(len, a)) + 8 * len(a)
        cache[1], cache[2] = n, tot
    alloc = 2
    while alloc < n:
        alloc *= 2
    return cache[2], mem + cache[2] + alloc * MULTI_CMD


def tracking_overhead(c):
    ts = c.tracking
    if ts is None or not ts.prefixes:
        return 0
    # raxNode count of the prefixes' rax (~ one leaf per prefix plus the inner nodes),
    # times sizeof(raxNode) * sizeof(raxNode*) as Redis counts it
    n = len(ts.prefixes)
    return (n + n // 9 + 1) * 32


def query_buffer(c):
    """(qbuf, sdsalloc of the query buffer)."""
    p = c.parser
    qlen = len(p.buf) + p.partlen
    alloc = c.qb_big
    if p.parts is None and (qlen or c.last_interaction > c.qb_freed_at):
        # a read since the cron last trimmed it: the 16k read buffer
        if alloc < QB_INITIAL:
            alloc = QB_INITIAL
    if qlen > alloc:
        alloc = sds_alloc(2 * (qlen + IOBUF) if qlen < 1 << 20 else qlen + (1 << 20))
    return qlen, alloc


def output(c):
    """(obl, oll, omem): unsent output, Redis's reply buffer first, then its reply list."""
    if c.obuf_class == "replica":
        return 0, 0, c.output_size()
    tr = c.transport
    u = tr.get_write_buffer_size() if c.wpaused and tr is not None else 0
    if not u:
        return 0, 0, 0
    obl = u if u < c.rbs else c.rbs
    oll = (u - obl + BLOCK_SIZE - 1) // BLOCK_SIZE
    return obl, oll, oll * (BLOCK_SIZE + REPLY_BLOCK)


def fields(c, argv=None):
    """The memory fields of CLIENT LIST: (qbuf, qbuf_free, argv_mem, multi_mem, rbs, rbp,
    obl, oll, omem, tot_mem). argv: the command c is running now (CLIENT LIST/INFO of
    itself: Redis still holds it in the query buffer and in argv)."""
    qlen, alloc = query_buffer(c)
    if argv is not None:
        argv_mem = sum(map(len, argv))
        argc = len(argv)
        # the command's own bytes are still in the query buffer while it runs
        qlen += (argc * 5 + argv_mem + len(str(argc))
                 + sum(len(str(len(a))) for a in argv) + 3)
        if alloc < QB_INITIAL:
            alloc = QB_INITIAL
        if qlen > alloc:
            alloc = qlen
    else:
        pa = c.parser.argv
        if pa:
            argv_mem = sum(map(len, pa))
            argc = len(pa)
        else:
            b = c.blocked
            a = b.argv if b is not None else None
            if a is not None:
                argv_mem, argc = sum(map(len, a)), len(a)
            else:
                argv_mem = argc = 0
    multi_mem, multi_over = multi_state(c)
    obl, oll, omem = output(c)
    tot = (omem + (sds_zmalloc(alloc) if alloc else 8) + CLIENT_STRUCT + c.rbs
           + argv_mem + 8 * argc + multi_over + pubsub_overhead(c) + tracking_overhead(c))
    return (qlen, alloc - qlen, argv_mem, multi_mem, c.rbs, c.buf_peak, obl, oll, omem, tot)


def memory(c):
    """getClientMemoryUsage."""
    p = c.parser
    if (c.wpaused or p.buf or p.partlen or p.argv or c.multi is not None or c.subscribed
            or c.watched_keys or c.tracking is not None or c.blocked is not None):
        return fields(c)[9]
    # a quiet client (most of them): its query buffer, struct and reply buffer
    alloc = c.qb_big
    if alloc < QB_INITIAL and c.last_interaction > c.qb_freed_at:
        alloc = QB_INITIAL
    return sds_zmalloc(alloc) + CLIENT_STRUCT + c.rbs


def omem_pending(c, n):
    """The reply list size Redis would have with n more bytes appended (before a write)."""
    if c.obuf_class == "replica":
        return c.output_size() + n
    tr = c.transport
    u = (tr.get_write_buffer_size() if c.wpaused and tr is not None else 0) + n
    rest = u - c.rbs
    if rest <= 0:
        return 0
    return (rest + BLOCK_SIZE - 1) // BLOCK_SIZE * (BLOCK_SIZE + REPLY_BLOCK)


class ClientMemory:
    """srv.cmem: the per-type totals, the eviction buckets, clientsCron."""

    def __init__(self, srv):
        self.srv = srv
        srv.cmem = self
        self.type_mem = [0, 0, 0, 0]         # stat_clients_type_memory
        self.buckets = None                  # [{client: None}] while eviction is on
        self.limit = 0
        self.queue = deque()                 # clientsCron's rotation
        self.peak_in = [0] * PEAK_SLOTS      # ClientsPeakMemInput / Output, per second
        self.peak_out = [0] * PEAK_SLOTS
        self.evict_handle = None
        srv.stat_evicted_clients = 0
        srv.stat_reply_buffer_shrinks = 0
        srv.stat_reply_buffer_expands = 0
        srv.reply_buffer_peak_reset_time = 5000
        srv.reply_buffer_resizing_enabled = True
        srv.cron_hooks.append(self.cron)
        srv.disconnect_hooks.append(self.forget)
        cfg = srv.config
        for name in ("maxmemory-clients", "maxmemory"):
            cfg.on_change(name, lambda v: self.configure())
        self.configure(initial=True)

    # -- configuration ----------------------------------------------------------------
    def eviction_limit(self):
        """getClientEvictionLimit."""
        v = self.srv.config.values
        mc = v["maxmemory-clients"]
        if mc < 0 and v["maxmemory"] > 0:
            lim = int(v["maxmemory"] * (-mc) / 100.0)
        elif mc > 0:
            lim = mc
        else:
            return 0
        return lim if lim >= 128 * 1024 else 128 * 1024

    def configure(self, initial=False):
        """applyClientMaxMemoryUsage: buckets exist while maxmemory-clients is set."""
        srv = self.srv
        on = srv.config.values["maxmemory-clients"] != 0
        self.limit = self.eviction_limit()
        if on and self.buckets is None:
            self.buckets = [{} for _ in range(NBUCKETS)]
            for c in list(srv.clients.values()):
                c.mem_live = True
                self.update(c)
        elif not on and self.buckets is not None:
            for c in list(srv.clients.values()):
                c.mem_live = False
                c.mem_bucket = None
            self.buckets = None
        if on and not initial:
            self.schedule_evict()

    # -- accounting ---------------------------------------------------------------------
    def update_memory(self, c):
        """updateClientMemoryUsage."""
        mem = memory(c)
        t = client_type(c)
        tm = self.type_mem
        tm[c.mem_type] -= c.last_mem
        tm[t] += mem
        c.mem_type = t
        c.last_mem = mem

    def allowed(self, c):
        """clientEvictionAllowed."""
        if self.buckets is None or c.no_evict:
            return False
        return client_type(c) in (TYPE_NORMAL, TYPE_PUBSUB)

    def update(self, c):
        """updateClientMemUsageAndBucket; returns whether c may be evicted."""
        if c.closed:
            return False
        if not self.allowed(c):
            b = c.mem_bucket
            if b is not None:
                self.buckets[b].pop(c, None)
                c.mem_bucket = None
            return False
        self.update_memory(c)
        mem = c.last_mem
        idx = min(max(mem.bit_length(), BUCKET_MIN_LOG), BUCKET_MAX_LOG) - BUCKET_MIN_LOG
        if idx != c.mem_bucket:
            if c.mem_bucket is not None:
                self.buckets[c.mem_bucket].pop(c, None)
            self.buckets[idx][c] = None
            c.mem_bucket = idx
        return True

    def changed(self, c):
        """A read or write changed c's buffers: update its memory (and bucket); clients
        over maxmemory-clients are then evicted before the next command or at the end of
        the loop pass (schedule_evict)."""
        if not self.update(c) and self.buckets is None:
            # (with eviction on, a client that can't be evicted is accounted by the cron
            # only, as updateClientMemUsageAndBucket skips it: its big query buffer does
            # not get other clients evicted before the cron sees it)
            self.update_memory(c)
        p = c.parser
        if not (c.wpaused or p.buf or p.partlen or p.argv is not None
                or self.buckets is not None):
            c.mem_live = False
        if self.buckets is not None:
            self.schedule_evict()

    def forget(self, c):
        """freeClient: the client's memory leaves the totals and its bucket."""
        self.type_mem[c.mem_type] -= c.last_mem
        c.last_mem = 0
        b = c.mem_bucket
        if b is not None and self.buckets is not None:
            self.buckets[b].pop(c, None)
        c.mem_bucket = None

    def clients_memory(self):
        """mem_clients_normal: normal, pub/sub and master clients."""
        tm = self.type_mem
        return tm[TYPE_NORMAL] + tm[TYPE_PUBSUB] + tm[TYPE_MASTER]

    # -- client eviction ------------------------------------------------------------------
    def schedule_evict(self):
        """Clients over the limit are evicted before the next command runs (processCommand
        calls evictClients) or at the end of the loop pass (beforeSleep), whichever comes
        first."""
        srv = self.srv
        tm = self.type_mem
        if (self.evict_handle is not None or srv.loop is None or not self.limit
                or tm[TYPE_NORMAL] + tm[TYPE_PUBSUB] < self.limit):
            return
        self.evict_handle = srv.loop.call_soon(self._evict_soon)
        # (after the cluster redirection, before maxmemory's check, as in processCommand)
        srv.state_checks.insert(srv.inline_checks, self.evict_check)
        srv.update_checks()

    def _unschedule(self):
        srv = self.srv
        if self.evict_handle is not None:
            self.evict_handle.cancel()
            self.evict_handle = None
        if self.evict_check in srv.state_checks:
            srv.state_checks.remove(self.evict_check)
            srv.update_checks()

    def evict_check(self, c, cmd, argv):
        """processCommand's evictClients (a state check while one is due): c itself may be
        evicted, and then its command does not run (Client.check sees it closed)."""
        self._unschedule()
        self.evict()

    def _evict_soon(self):
        self._unschedule()
        srv = self.srv
        if srv.flush_handle is not None:
            # the pass's writes first, as beforeSleep runs evictClients after them (the
            # flush may have been queued after this call)
            srv.flush_handle.cancel()
            srv.flush_queued()
        self.evict()

    def evict(self):
        """evictClients: free the largest clients until the normal and pub/sub clients use
        less than the limit."""
        buckets = self.buckets
        limit = self.limit
        if buckets is None or not limit:
            return
        tm = self.type_mem
        srv = self.srv
        cur = NBUCKETS - 1
        while tm[TYPE_NORMAL] + tm[TYPE_PUBSUB] >= limit:
            b = buckets[cur]
            if b:
                c = next(iter(b))
                srv.log("notice", "Evicting client: %s" % c.info_line())
                del b[c]
                c.mem_bucket = None
                c.kill()
                srv.stat_evicted_clients += 1
            else:
                cur -= 1
                if cur < 0:
                    srv.log("warning", "Over client maxmemory after evicting all evictable "
                            "clients")
                    break

    # -- output buffer limits -------------------------------------------------------------
    def over_limits(self, c, omem):
        """checkClientOutputBufferLimits (soft limit state updated as a side effect)."""
        srv = self.srv
        t = client_type(c)
        klass = "pubsub" if t == TYPE_PUBSUB else "normal"
        hard, soft, secs = srv.config.values["client-output-buffer-limit"][klass]
        if hard and omem >= hard:
            return True
        if soft and omem >= soft:
            now = int(time.time())
            if not c.obuf_soft_since:
                c.obuf_soft_since = now
            elif now - c.obuf_soft_since > secs:
                return True
        else:
            c.obuf_soft_since = 0
        return False

    def check_append(self, c, n):
        """closeClientOnOutputBufferLimitReached(c, async) for n bytes about to be added to
        c's output; True when c was disconnected."""
        if c.obuf_class == "replica" or c.closed:
            return False
        omem = omem_pending(c, n)
        if not omem and not c.obuf_soft_since:
            return False
        if self.over_limits(c, omem):
            self.srv.log("warning", "Client %s scheduled to be closed ASAP for overcoming "
                         "of output buffer limits." % c.info_line())
            self.srv.stat_client_outbuf_limit_disconnections += 1
            c.out.clear()
            c.kill()
            return True
        return False

    # -- clientsCron ----------------------------------------------------------------------
    def cron(self, srv):
        clients = srv.clients
        n = len(clients)
        if not n:
            return
        hz = max(1, min(500, srv.config.values["hz"]))
        it = n // hz
        if it < CRON_MIN_ITERATIONS:
            it = min(n, CRON_MIN_ITERATIONS)
        q = self.queue
        now = time.monotonic()
        wall = time.time()
        now_ms = int(wall * 1000)
        slot = int(wall) % PEAK_SLOTS
        nxt = (slot + 1) % PEAK_SLOTS
        self.peak_in[nxt] = self.peak_out[nxt] = 0
        limits = srv.obuf_limits_on
        while it > 0:
            if not q:
                q.extend(clients.values())
            c = q.popleft()
            it -= 1
            if c.closed:
                continue
            if c.cron_quiet and c.cron_seen == c.last_interaction and not c.wpaused:
                # nothing changed since a visit that found nothing to do: only its
                # (empty) query buffer counts for the recent input peak
                if self.peak_in[slot] < 8:
                    self.peak_in[slot] = 8
                continue
            self.resize_query_buffer(c, now)
            self.resize_output_buffer(c, now_ms)
            self.track_expansive(c, slot)
            if not self.update(c):
                self.update_memory(c)
            # the next visit would change nothing (freed query buffer, reply buffer at
            # its size with no peak): skip the client until it talks again
            c.cron_seen = c.last_interaction
            usable = c.rbs
            p = c.parser
            c.cron_quiet = (c.qb_big <= 4 and c.qb_freed_at >= c.last_interaction
                            and not p.buf and not p.partlen and p.argv is None
                            and not c.buf_peak and c.blocked is None
                            and not c.obuf_soft_since
                            and (not srv.reply_buffer_resizing_enabled
                                 or usable // 2 < REPLY_MIN))
            if limits and c.wpaused and c.obuf_class != "replica":
                omem = output(c)[2]
                if omem and self.over_limits(c, omem):
                    srv.log("warning", "Client %s closed for overcoming of output buffer "
                            "limits." % c.info_line())
                    srv.stat_client_outbuf_limit_disconnections += 1
                    c.kill()
        if self.buckets is not None:
            self.evict()

    def track_expansive(self, c, slot):
        """clientsCronTrackExpansiveClients: the biggest input (query buffer + argv) and
        output (reply list) seen per second, for INFO's client_recent_max_*_buffer."""
        qlen, alloc = query_buffer(c)
        in_usage = sds_zmalloc(alloc)
        pa = c.parser.argv
        if pa:
            # (argv is allocated for the whole multibulk, at most 1024 slots at first)
            in_usage += sum(map(len, pa)) + je_size(
                8 * min(len(pa) + c.parser.remaining, 1024))
        if in_usage > self.peak_in[slot]:
            self.peak_in[slot] = in_usage
        if c.wpaused:
            out = output(c)[2]
            if out > self.peak_out[slot]:
                self.peak_out[slot] = out

    def recent_max(self):
        """getExpansiveClientsInfo: (input, output)."""
        return max(self.peak_in), max(self.peak_out)

    def resize_query_buffer(self, c, now):
        """clientsCronResizeQueryBuffer: free the unused space of an idle client's
        buffer, trim a big one to the recent peak."""
        p = c.parser
        qlen, alloc = query_buffer(c)
        if alloc - qlen > 4096:
            new = -1
            if now - c.last_interaction > 2:
                new = qlen                         # sdsRemoveFreeSpace
            elif alloc > RESIZE_THRESHOLD and alloc // 2 > c.qb_peak:
                new = max(qlen, c.qb_peak)
                if p.parts is not None and p.bulklen > new:
                    new = p.bulklen
            if new >= 0:
                # stays this size until the next read makes room for 16k again
                c.qb_big = new
                c.qb_freed_at = now
        c.qb_peak = qlen
        if p.parts is not None and p.bulklen > qlen:
            c.qb_peak = p.bulklen

    def resize_output_buffer(self, c, now_ms):
        """clientsCronResizeOutputBuffer: halve rbs when the peak is under half of it,
        double it (up to 16k) when the peak filled it; the peak restarts every
        reply-buffer-peak-reset-time ms."""
        srv = self.srv
        if not srv.reply_buffer_resizing_enabled:
            return
        usable = c.rbs
        new = 0
        if usable // 2 >= REPLY_MIN and c.buf_peak < usable // 2:
            new = max(REPLY_MIN, c.buf_peak + 1)
            srv.stat_reply_buffer_shrinks += 1
        elif usable * 2 < REPLY_CHUNK * 2 and c.buf_peak == usable:
            new = min(REPLY_CHUNK, usable * 2)
            srv.stat_reply_buffer_expands += 1
        reset = srv.reply_buffer_peak_reset_time
        if reset >= 0 and now_ms - c.buf_peak_reset >= reset:
            obl = output(c)[0]
            c.buf_peak = obl
            c.buf_peak_reset = now_ms
        if new:
            c.rbs = je_size(new)


def _resetstat(srv):
    srv.stat_evicted_clients = 0
    srv.stat_reply_buffer_shrinks = 0
    srv.stat_reply_buffer_expands = 0


def _init(srv):
    ClientMemory(srv)
    from .commands import config_cmd
    if _resetstat not in config_cmd.resetstat_hooks:
        config_cmd.resetstat_hooks.append(_resetstat)


hooks.server_init.append(_init)


def limit_reached(c, n):
    """A command building a huge reply: True (and c is closed) once n more bytes would
    put c over its output buffer limits, the CLIENT_CLOSE_ASAP check of Redis's loops."""
    srv = c.server
    if not srv.obuf_limits_on or c.transport is None:
        return False
    if srv.cmem.check_append(c, n + sum(map(len, c.out))):
        c.closing = True
        return True
    return False


def random_reply(c, count, make, batch=1000):
    """The reply of count random picks, made batch by batch: make(n) gives a reply of n
    picks (its '*' header line is replaced by one for the whole count). Stops, with an
    empty reply, once the client went over its output buffer limits."""
    parts = [b""]
    total = 0
    done = 0
    mult = 1
    while done < count:
        n = min(batch, count - done)
        r = make(n)
        cut = r.index(b"\r\n") + 2
        if not done:
            mult = int(r[1:cut - 2]) // n
        parts.append(r[cut:] if cut < len(r) else b"")
        total += len(r) - cut
        done += n
        if limit_reached(c, total):
            return b""
    parts[0] = b"*%d\r\n" % (count * mult)
    return b"".join(parts)
