"""Hooks the interpreter's ssl at import, as keylog and PSK helpers do: every new TLS object
is handed to the extension."""
import ssl

from . import _hook

_wrap_bio = ssl.SSLContext.wrap_bio


def _wrap_bio_and_touch(self, *args, **kwargs):
    tls = _wrap_bio(self, *args, **kwargs)
    _hook.touch(tls._sslobj)
    return tls


ssl.SSLContext.wrap_bio = _wrap_bio_and_touch
