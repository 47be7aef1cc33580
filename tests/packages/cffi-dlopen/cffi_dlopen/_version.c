/* The extension half: linked with the static OpenSSL, reports its version. */
#include <Python.h>
#include <openssl/crypto.h>

static PyObject *version(PyObject *self, PyObject *unused) {
    return PyUnicode_FromString(OpenSSL_version(OPENSSL_VERSION));
}

static PyMethodDef methods[] = {{"version", version, METH_NOARGS, NULL}, {NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_version", NULL, -1, methods};
PyMODINIT_FUNC PyInit__version(void) { return PyModule_Create(&module); }
