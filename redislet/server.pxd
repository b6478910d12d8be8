cdef class RedisServer:
    cdef dict __dict__
    cdef public object dirty, notify_flags, lru_clock, ready_keys, lfu_mode, lru_new, config
    cdef public object key_modified_hook, pause_type, checks, tracking_clients, monitors
    cdef public object master_repl_offset, master_executing, loading, lazyfree_expire
    cdef public object is_replica, tracking_current, stat_keyspace_hits
    cdef public object stat_keyspace_misses, obuf_limits_on, dispatch, before_reply
    cdef public long long after_call_us, stat_numcommands
    cdef public object latency_tracking, propagate_targets
    cdef public object stat_net_input_bytes, stat_net_output_bytes, query_buffer_limit
    cdef public object flush_queue, flush_handle, loop, dbs
