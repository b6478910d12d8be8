# The compiled build of the reply encoders (see redislet/_build.py). `parts` stays a
# generic object: a list typed by inference takes only lists in a slice assignment.
import cython

@cython.locals(parts=object, k=Py_ssize_t)
cpdef bytes bulks(head, items)
