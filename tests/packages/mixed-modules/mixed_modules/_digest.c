#include <Python.h>
#include <openssl/evp.h>

static PyObject *sha256(PyObject *self, PyObject *args) {
    const unsigned char *data; Py_ssize_t size; unsigned char out[32]; unsigned int length = 0;
    if (!PyArg_ParseTuple(args, "y#", &data, &size)) return NULL;
    if (!EVP_Digest(data, (size_t)size, out, &length, EVP_sha256(), NULL)) return NULL;
    return PyBytes_FromStringAndSize((const char *)out, length);
}

static PyMethodDef methods[] = {{"sha256", sha256, METH_VARARGS, NULL}, {NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_digest", NULL, -1, methods};
PyMODINIT_FUNC PyInit__digest(void) { return PyModule_Create(&module); }
