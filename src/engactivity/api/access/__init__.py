"""Who may call which route, enforced over HTTP.

Each route declares what it needs where it is added (``routes.py``: ``add_route``,
``mount``, ``declare``, with the kinds of ``engactivity.auth.access``); the route table
(``table.py``) finds, before routing, the declaration of the route a request goes to;
the middleware (``middleware.py``) checks the caller's credentials against it and
records what it let through, and account routes check that again before their
handler runs. The OpenAPI description's security (``openapi.py``) is read from the
same declarations.
"""
