"""People on a node: accounts, roles, sessions, two-factor login and API tokens."""
