"""Trust and federation: the registry authority, the signed member directory, joining,
key rotation and revocation, trust between federations, and signed node-to-node requests."""
