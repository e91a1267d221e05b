"""Authentication and authorization: API keys, their stores, OAuth 1.0a and bearer checks."""
