from redislet.server cimport RedisServer

cdef class Database:
    cdef public object id, expires, watched, blocking, avg_ttl
    cdef public object expire_cursor, expire_scan, lru_base
    cdef public dict data, lru
    cdef public RedisServer server
