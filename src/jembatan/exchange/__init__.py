"""Secure exchange: sealed envelopes between governments, store-and-forward delivery,
deduplication and signed receipts."""
