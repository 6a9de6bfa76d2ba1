"""The scheduling core: pure passes over a snapshot, the status builder, metrics and the loops.

Only ``loop.py`` sleeps, and only the ``Scheduler`` in ``core.py`` calls the backend, the
store and the clock.
"""
