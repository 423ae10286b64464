"""Backends: engines that turn `Request`s into `Generation`s behind one protocol.

>>> from thinktime.backends import make_backend
>>> backend = make_backend("fake")
>>> backend.name
'fake'
"""

from thinktime.backends.base import BACKENDS, Backend, load_backend, make_backend, register_backend

__all__ = ["BACKENDS", "Backend", "load_backend", "make_backend", "register_backend"]
