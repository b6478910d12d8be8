# The compiled build's Database (see redislet/_build.py): the keyspace dicts as C fields.
from redislet.server cimport RedisServer

cdef class Database:
    cdef public object id, avg_ttl
    cdef public dict expires, watched, blocking
    cdef public object expire_cursor, expire_scan, lru_base
    cdef public dict data, lru
    cdef public RedisServer server

    # the hot methods: C calls from the compiled handlers (a Python subclass may override)
    cpdef lookup(self, key, write=*)
    cpdef peek(self, key)
    cpdef lookup_read(self, key, touch=*)
    cpdef lookup_type(self, key, cls, read=*)
    cpdef add(self, key, value)
    cpdef set(self, key, value, keepttl=*)
    cpdef delete(self, key, lazy=*)
    cpdef touch(self, key)
