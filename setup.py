"""
The one thing setup.cfg can't say: kvtwist._resp, the C RESP splitter, is
built on CPython only (PyPy's JIT runs the Python one faster than it would
call C), and is optional: without a compiler, kvtwist runs in pure Python.
"""

import platform

from setuptools import Extension, setup

extensions = []
if platform.python_implementation() == "CPython":
    extensions.append(Extension("kvtwist._resp", ["kvtwist/_resp.c"],
                                optional=True))

setup(ext_modules=extensions)
