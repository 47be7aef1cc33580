#include <Python.h>
#include "openssl/opensslv.h"
#include <openssl/crypto.h>

static PyObject *versions(PyObject *self, PyObject *unused) {
    return Py_BuildValue("(ss)", OPENSSL_VERSION_TEXT, OpenSSL_version(OPENSSL_VERSION));
}

static PyMethodDef methods[] = {{"versions", versions, METH_NOARGS, NULL}, {NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "vendored_headers", NULL, -1, methods};
PyMODINIT_FUNC PyInit_vendored_headers(void) { return PyModule_Create(&module); }
