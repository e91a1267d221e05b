"""The benchmark harness of engactivity: ``make bench`` (full) and ``make bench-quick``.

Everything here treats the server as a black box over HTTP. Entry point:
``python -m bench [--quick]`` (see :mod:`bench.run`).
"""
