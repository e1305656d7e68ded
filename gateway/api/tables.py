"""Tables of gateway.api (registered through gateway.db.registry)."""
