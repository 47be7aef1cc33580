/* Time-stamp requests: TS_REQ_new and TS_REQ_set_version come from whichever libcrypto.a
   the linker reads first. */
#include <Python.h>
#include <openssl/crypto.h>
#include <openssl/ts.h>

static PyObject *request_version(PyObject *self, PyObject *unused) {
    TS_REQ *request = TS_REQ_new();
    long version;
    if (request == NULL || !TS_REQ_set_version(request, 1)) return PyErr_NoMemory();
    version = TS_REQ_get_version(request);
    TS_REQ_free(request);
    return PyLong_FromLong(version);
}

static PyObject *openssl_version(PyObject *self, PyObject *unused) {
    return PyUnicode_FromString(OpenSSL_version(OPENSSL_VERSION));
}

static PyMethodDef methods[] = {{"request_version", request_version, METH_NOARGS, NULL},
                                {"openssl_version", openssl_version, METH_NOARGS, NULL},
                                {NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "second_libcrypto", NULL, -1, methods};
PyMODINIT_FUNC PyInit_second_libcrypto(void) { return PyModule_Create(&module); }
