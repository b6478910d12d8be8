cdef class RequestParser:
    cdef public object buf, argv, remaining, bulklen, parts, partlen
    cdef public object error, max_bulk, auth_required, reader, finish_one
