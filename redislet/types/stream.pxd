# The compiled build's stream value and its parts (see redislet/_build.py).
cdef class Node:
    cdef public object master, ids, entries, live, deleted, nbytes, mfields, mms, mseq

cdef class NACK:
    cdef public object delivery_time, delivery_count, consumer

cdef class Consumer:
    cdef public object name, seen_time, pel

cdef class Group:
    cdef public object last_id, entries_read, pel, consumers

cdef class Stream:
    cdef public object nodes, keys, length, last_id, first_id, max_deleted
    cdef public object entries_added, groups
