"""engactivity: a self-hosted implementation of the Engagement Activity real-time API."""

__version__ = "0.1.0"
