"""A multi-host deployment on one machine, with failures injected under load.

``make scale-test`` (``scripts/scale-test``) builds it in network namespaces: two API
hosts behind nginx, a PostgreSQL primary with a synchronous streaming replica; then it
kills an API host, and later stops the primary and promotes the replica, each while
producers send batches, and checks every total against what was acknowledged. See
docs/deploy.md ("A tested multi-host deployment").
"""
