"""Cryptographic building blocks: secrets at rest, and (later) keys and JOSE envelopes."""
