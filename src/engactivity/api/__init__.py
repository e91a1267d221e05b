"""The HTTP adapter: routes, error bodies, limits and caches around the core (``app.py``)."""
