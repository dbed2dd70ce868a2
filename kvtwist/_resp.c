/*
 * kvtwist._resp: the RESP request splitter of kvtwist.dialects.resp in C,
 * for CPython.  parseMany here returns exactly what the pure-Python
 * kvtwist.dialects.resp.parseMany returns for the same arguments (the
 * tests compare them on random input); PyPy runs the Python one.  With it,
 * parseBulks parses the arguments of a request that spans many reads,
 * BulkBuffer is what a big bulk string is received into, and renderBulk
 * renders the most common reply.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <string.h>

/* Redis's defaults, as in kvtwist/dialects/resp.py. */
#define DEFAULT_MAX_BULK (512LL * 1024 * 1024)
#define DEFAULT_MAX_MULTIBULK (1024LL * 1024)

/* The first CR LF in [p, end), or NULL. */
static const char *
findCRLF(const char *p, const char *end)
{
    while (end - p >= 2) {
        const char *cr = memchr(p, '\r', (size_t)(end - p - 1));
        if (cr == NULL)
            return NULL;
        if (cr[1] == '\n')
            return cr;
        p = cr + 1;
    }
    return NULL;
}

/*
 * [p, q) as a number of 1 to 19 ASCII digits (without leading zeros when
 * canonical, as "%d" prints it): its value, LLONG_MAX if it is larger, or
 * -1 if it is not such a number.
 */
static long long
digits(const char *p, const char *q, int canonical)
{
    Py_ssize_t n = q - p;
    unsigned long long value = 0;

    if (n < 1 || n > 19)
        return -1;
    if (canonical && n > 1 && p[0] == '0')
        return -1;
    for (; p < q; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        value = value * 10 + (unsigned long long)(*p - '0');
    }
    return value > (unsigned long long)LLONG_MAX ? LLONG_MAX
                                                 : (long long)value;
}

PyDoc_STRVAR(parseMany_doc,
"parseMany(buf, pos, maxBulk=512 MiB, maxMultibulk=1 Mi) -> list\n\n"
"Every whole, ordinary multibulk request from buf[pos] on, as\n"
"[(args, endPos), ...]; stop at the first one that is partial, holds a\n"
"CR LF inside a value, is not RESP or breaks the framing.  See\n"
"kvtwist.dialects.resp.parseMany.");

static PyObject *
parseMany(PyObject *module, PyObject *args)
{
    PyObject *bufObject;
    Py_ssize_t pos;
    long long maxBulk = DEFAULT_MAX_BULK;
    long long maxMultibulk = DEFAULT_MAX_MULTIBULK;
    const char *base, *end, *p;
    PyObject *out;

    if (!PyArg_ParseTuple(args, "Sn|LL:parseMany", &bufObject, &pos,
                          &maxBulk, &maxMultibulk))
        return NULL;
    if (pos < 0) {
        PyErr_SetString(PyExc_ValueError, "negative position");
        return NULL;
    }
    base = PyBytes_AS_STRING(bufObject);
    end = base + PyBytes_GET_SIZE(bufObject);
    p = base + pos;
    out = PyList_New(0);
    if (out == NULL)
        return NULL;

    while (p < end && *p == '*') {
        const char *eol = findCRLF(p + 1, end);
        const char *q;
        long long count, i;
        PyObject *argv, *request;

        if (eol == NULL)
            break;
        count = digits(p + 1, eol, 0);
        if (count <= 0 || count > maxMultibulk)
            break;
        q = eol + 2;
        /* Each argument takes at least 6 bytes ("$0\r\n\r\n"). */
        if (count > (end - q) / 6)
            break;
        argv = PyList_New((Py_ssize_t)count);
        if (argv == NULL)
            goto error;
        for (i = 0; i < count; i++) {
            const char *headerEnd, *start;
            long long length;
            PyObject *arg;

            if (q >= end || *q != '$')
                break;
            headerEnd = findCRLF(q + 1, end);
            if (headerEnd == NULL)
                break;
            length = digits(q + 1, headerEnd, 1);
            if (length < 0 || length > maxBulk)
                break;
            start = headerEnd + 2;
            if (length > (end - start) - 2)
                break;
            /* The value must not hold a CR LF: the first one from its
             * start is the one that ends it. */
            if (findCRLF(start, start + length + 2) != start + length)
                break;
            arg = PyBytes_FromStringAndSize(start, (Py_ssize_t)length);
            if (arg == NULL) {
                Py_DECREF(argv);
                goto error;
            }
            PyList_SET_ITEM(argv, (Py_ssize_t)i, arg);
            q = start + length + 2;
        }
        if (i < count) {
            Py_DECREF(argv);
            break;
        }
        request = Py_BuildValue("(Nn)", argv, (Py_ssize_t)(q - base));
        if (request == NULL)
            goto error;
        if (PyList_Append(out, request) < 0) {
            Py_DECREF(request);
            goto error;
        }
        Py_DECREF(request);
        p = q;
    }
    return out;

error:
    Py_DECREF(out);
    return NULL;
}

PyDoc_STRVAR(parseBulks_doc,
"parseBulks(buf, pos, count, maxBulk, args) -> (pos, need)\n\n"
"Parse up to count bulk strings from buf[pos] on, appending them to\n"
"args; stop at the first that is not whole, and at anything unusual\n"
"(a header that is not $<digits>, a length over maxBulk, a value not\n"
"followed by CR LF).  need is 0 when count were parsed, the bytes from\n"
"pos the next one takes when its header is whole, -1 while the header\n"
"lacks its line end, and -2 for something unusual at pos: the caller\n"
"hands that to kvtwist.dialects.resp.parseBulksPython, which says what\n"
"is wrong.  See kvtwist.dialects.resp.parseBulks.");

static PyObject *
parseBulks(PyObject *module, PyObject *args)
{
    PyObject *bufObject, *out;
    Py_ssize_t pos;
    long long count, maxBulk;
    const char *base, *end, *q;
    long long need = 0;

    if (!PyArg_ParseTuple(args, "SnLLO!:parseBulks", &bufObject, &pos,
                          &count, &maxBulk, &PyList_Type, &out))
        return NULL;
    if (pos < 0) {
        PyErr_SetString(PyExc_ValueError, "negative position");
        return NULL;
    }
    base = PyBytes_AS_STRING(bufObject);
    end = base + PyBytes_GET_SIZE(bufObject);
    q = base + pos;
    while (count > 0) {
        const char *headerEnd, *start;
        long long length;
        PyObject *arg;
        int failed;

        if (q >= end) {
            need = -1;
            break;
        }
        if (*q != '$') {
            need = -2;
            break;
        }
        headerEnd = findCRLF(q + 1, end);
        if (headerEnd == NULL) {
            /* Python's parser says whether it is too long already. */
            need = (end - q > 32) ? -2 : -1;
            break;
        }
        length = digits(q + 1, headerEnd, 0);
        if (length < 0 || length > maxBulk) {
            need = -2;
            break;
        }
        start = headerEnd + 2;
        if (length > (end - start) - 2) {
            need = (long long)(start - q) + length + 2;
            break;
        }
        if (start[length] != '\r' || start[length + 1] != '\n') {
            need = -2;
            break;
        }
        arg = PyBytes_FromStringAndSize(start, (Py_ssize_t)length);
        if (arg == NULL)
            return NULL;
        failed = PyList_Append(out, arg);
        Py_DECREF(arg);
        if (failed < 0)
            return NULL;
        q = start + length + 2;
        count--;
    }
    return Py_BuildValue("(nL)", (Py_ssize_t)(q - base), need);
}


/*
 * BulkBuffer: a bulk string received into the bytes object it will be,
 * allocated once at its final size and filled as its bytes arrive: no
 * joins, and no copy when it is done.  The bytes object is not seen by
 * Python code until it is full.
 */

typedef struct {
    PyObject_HEAD
    PyObject *value;        /* the bytes being filled, or NULL */
    Py_ssize_t size;
    Py_ssize_t filled;
} BulkBuffer;

static void
BulkBuffer_dealloc(BulkBuffer *self)
{
    Py_XDECREF(self->value);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
BulkBuffer_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"size", NULL};
    Py_ssize_t size;
    BulkBuffer *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "n:BulkBuffer", keywords,
                                     &size))
        return NULL;
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "negative size");
        return NULL;
    }
    self = (BulkBuffer *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->value = PyBytes_FromStringAndSize(NULL, size);
    if (self->value == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    self->size = size;
    self->filled = 0;
    return (PyObject *)self;
}

PyDoc_STRVAR(BulkBuffer_write_doc,
"write(data, start=0) -> int\n\n"
"Copy data[start:] into the buffer, as much as it has room for; return\n"
"how many bytes it took.");

static PyObject *
BulkBuffer_write(BulkBuffer *self, PyObject *args)
{
    Py_buffer data;
    Py_ssize_t start = 0, taken;

    if (!PyArg_ParseTuple(args, "y*|n:write", &data, &start))
        return NULL;
    if (self->value == NULL) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "the value was taken");
        return NULL;
    }
    if (start < 0 || start > data.len) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "start out of range");
        return NULL;
    }
    taken = data.len - start;
    if (taken > self->size - self->filled)
        taken = self->size - self->filled;
    memcpy(PyBytes_AS_STRING(self->value) + self->filled,
           (const char *)data.buf + start, (size_t)taken);
    self->filled += taken;
    PyBuffer_Release(&data);
    return PyLong_FromSsize_t(taken);
}

PyDoc_STRVAR(BulkBuffer_value_doc,
"value() -> bytes\n\n"
"The value, once full; the buffer forgets it.");

static PyObject *
BulkBuffer_value(BulkBuffer *self, PyObject *unused)
{
    PyObject *value = self->value;

    if (value == NULL || self->filled < self->size) {
        PyErr_SetString(PyExc_ValueError, "the buffer is not full");
        return NULL;
    }
    self->value = NULL;
    return value;
}

PyDoc_STRVAR(BulkBuffer_close_doc,
"close()\n\n"
"Drop the value being received: its memory goes now.");

static PyObject *
BulkBuffer_close(BulkBuffer *self, PyObject *unused)
{
    Py_CLEAR(self->value);
    Py_RETURN_NONE;
}

static PyObject *
BulkBuffer_remaining(BulkBuffer *self, void *closure)
{
    return PyLong_FromSsize_t(self->size - self->filled);
}

static PyMethodDef BulkBuffer_methods[] = {
    {"write", (PyCFunction)BulkBuffer_write, METH_VARARGS,
     BulkBuffer_write_doc},
    {"value", (PyCFunction)BulkBuffer_value, METH_NOARGS,
     BulkBuffer_value_doc},
    {"close", (PyCFunction)BulkBuffer_close, METH_NOARGS,
     BulkBuffer_close_doc},
    {NULL, NULL, 0, NULL}
};

static PyGetSetDef BulkBuffer_getset[] = {
    {"remaining", (getter)BulkBuffer_remaining, NULL,
     "How many bytes it still needs.", NULL},
    {NULL, NULL, NULL, NULL, NULL}
};

static PyTypeObject BulkBufferType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kvtwist._resp.BulkBuffer",
    .tp_basicsize = sizeof(BulkBuffer),
    .tp_dealloc = (destructor)BulkBuffer_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "BulkBuffer(size): a bulk string of size bytes, received "
              "into the bytes object it will be.",
    .tp_methods = BulkBuffer_methods,
    .tp_getset = BulkBuffer_getset,
    .tp_new = BulkBuffer_new,
};

PyDoc_STRVAR(renderBulk_doc,
"renderBulk(value: bytes) -> bytes\n\n"
"The RESP bulk string of value, b\"$<length>\\r\\n<value>\\r\\n\", made in\n"
"one piece: what kvtwist.dialects.resp.renderBulkPython returns.");

static PyObject *
renderBulk(PyObject *self, PyObject *value)
{
    char head[24];
    Py_ssize_t n, headLen, digitsLeft;
    PyObject *out;
    char *p, *q;

    if (!PyBytes_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "renderBulk() takes bytes");
        return NULL;
    }
    n = PyBytes_GET_SIZE(value);
    /* "$", the digits of n written backwards from the end, CR LF. */
    p = head + sizeof(head);
    *--p = '\n';
    *--p = '\r';
    digitsLeft = n;
    do {
        *--p = (char)('0' + digitsLeft % 10);
        digitsLeft /= 10;
    } while (digitsLeft > 0);
    *--p = '$';
    headLen = head + sizeof(head) - p;
    if (n > PY_SSIZE_T_MAX - headLen - 2)
        return PyErr_NoMemory();
    out = PyBytes_FromStringAndSize(NULL, headLen + n + 2);
    if (out == NULL)
        return NULL;
    q = PyBytes_AS_STRING(out);
    memcpy(q, p, (size_t)headLen);
    memcpy(q + headLen, PyBytes_AS_STRING(value), (size_t)n);
    q[headLen + n] = '\r';
    q[headLen + n + 1] = '\n';
    return out;
}

static PyMethodDef methods[] = {
    {"parseMany", parseMany, METH_VARARGS, parseMany_doc},
    {"parseBulks", parseBulks, METH_VARARGS, parseBulks_doc},
    {"renderBulk", renderBulk, METH_O, renderBulk_doc},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "kvtwist._resp",
    "The RESP request splitter in C (see kvtwist.dialects.resp).",
    -1,
    methods
};

PyMODINIT_FUNC
PyInit__resp(void)
{
    PyObject *m;

    if (PyType_Ready(&BulkBufferType) < 0)
        return NULL;
    m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&BulkBufferType);
    if (PyModule_AddObject(m, "BulkBuffer", (PyObject *)&BulkBufferType) < 0) {
        Py_DECREF(&BulkBufferType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
