"""A local federation for trying Jembatan: several nodes on one machine with sample data."""
