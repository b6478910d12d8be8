# The compiled build's request parser (see redislet/_build.py): the parser's state as C
# fields, scan_canonical's byte loop over a const unsigned char * of the read.
import cython

cdef class RequestParser:
    cdef public object buf, argv, remaining, bulklen, parts, partlen
    cdef public object error, max_bulk, auth_required, reader, finish_one

    cpdef feed_fast(self, data)
    cpdef pending_bytes(self)
    cpdef bint holds_partial(self)

@cython.locals(start=Py_ssize_t, v=Py_ssize_t)
cdef (Py_ssize_t, Py_ssize_t) _read_len(const unsigned char *view, Py_ssize_t p,
                                        Py_ssize_t n)

@cython.locals(view="const unsigned char *", n=Py_ssize_t, pos=Py_ssize_t, p=Py_ssize_t,
               count=Py_ssize_t, bl=Py_ssize_t, argv=list, name=bytes, arg=bytes)
cpdef Py_ssize_t scan_canonical(bytes data, list out, Py_ssize_t max_bulk) except -1

cdef bytes _last_name

@cython.locals(chars="const unsigned char *", i=Py_ssize_t)
cdef bint _same(const unsigned char *view, Py_ssize_t p, Py_ssize_t bl, bytes name)
