"""The tamper-evident ledger: a Merkle log of every exchange and decision, its signed
checkpoints, proofs, and the peers' cosignatures."""
