# -*- test-case-name: kvtwist.test.test_backends -*-
"""
Backends: where requests become effects.

A backend provides L{kvtwist.interfaces.IBackend}: it runs whole commands,
given their name and arguments, and answers a neutral reply or a Deferred
of one.  L{kvtwist.backends.memory} is the default, embedded one: the
command table over the in-process store and its journal.
"""
