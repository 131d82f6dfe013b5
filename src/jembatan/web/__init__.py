"""The HTTP face of a node: app factory, middleware, sessions, CSRF, i18n and templates."""
