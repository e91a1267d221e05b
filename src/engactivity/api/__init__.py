"""The HTTP adapter: routes, error bodies and limits around the pure core."""

from engactivity.api.app import create_app

__all__ = ["create_app"]
