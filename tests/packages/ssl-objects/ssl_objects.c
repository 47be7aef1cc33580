/* Calls OpenSSL on the interpreter's own ssl.SSLContext: it fetches _ssl's context type and
   reads the SSL_CTX* that follows the object header, as CPython's _ssl.c lays it out. */
#include <Python.h>
#include <openssl/ssl.h>

typedef struct { PyObject_HEAD SSL_CTX *ctx; } ContextLayout;

static PyObject *context_type;

static PyObject *security_level(PyObject *self, PyObject *context) {
    if (!PyObject_TypeCheck(context, (PyTypeObject *)context_type)) {
        PyErr_SetString(PyExc_TypeError, "an ssl.SSLContext is needed");
        return NULL;
    }
    return PyLong_FromLong(SSL_CTX_get_security_level(((ContextLayout *)context)->ctx));
}

static PyMethodDef methods[] = {{"security_level", security_level, METH_O, NULL}, {NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "ssl_objects", NULL, -1, methods};

PyMODINIT_FUNC PyInit_ssl_objects(void) {
    PyObject *ssl = PyImport_ImportModule("_ssl");
    if (ssl == NULL) return NULL;
    context_type = PyObject_GetAttrString(ssl, "_SSLContext");
    Py_DECREF(ssl);
    return context_type == NULL ? NULL : PyModule_Create(&module);
}
