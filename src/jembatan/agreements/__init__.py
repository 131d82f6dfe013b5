"""Data-sharing agreements: co-signed terms that both ends enforce on every message."""
