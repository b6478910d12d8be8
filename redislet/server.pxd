# The compiled build's RedisServer: the fields the request path reads are C struct fields
# (the rest live in the instance __dict__, as in the plain class).
cdef class RedisServer:
    cdef dict __dict__
    cdef public list ready_keys, monitors, propagate_targets
    cdef public long notify_flags
    cdef public bint checks, lfu_mode, master_executing, loading, is_replica
    cdef public long long after_call_us, stat_numcommands, dirty, master_repl_offset
    cdef public long long stat_keyspace_hits, stat_keyspace_misses
    cdef public long long stat_net_input_bytes, stat_net_output_bytes
    cdef public object lru_clock, lru_new, config, dispatch, before_reply
    cdef public object key_modified_hook, pause_type, tracking_clients, tracking_current
    cdef public object lazyfree_expire, latency_tracking, obuf_limits_on, query_buffer_limit
    cdef public object flush_queue, flush_handle, loop, dbs
    cdef public object stream_node_max_entries, stream_node_max_bytes
    cdef public dict pubsub_channels, pubsub_shard, pubsub_patterns
    cdef public object cluster, prop_batch

    cpdef schedule_flush(self, c)
    cpdef propagate(self, dbid, argv)
