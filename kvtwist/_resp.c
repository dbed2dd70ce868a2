/*
 * kvtwist._resp: the RESP request splitter of kvtwist.dialects.resp in C,
 * for CPython.  parseMany here returns exactly what the pure-Python
 * kvtwist.dialects.resp.parseMany returns for the same arguments (the
 * tests compare them on random input); PyPy runs the Python one.
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

static PyMethodDef methods[] = {
    {"parseMany", parseMany, METH_VARARGS, parseMany_doc},
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
    return PyModule_Create(&module);
}
