"""The unified GraphQL schema over every member agency, one module per domain (see unified.py)."""
