"""Tables of gateway.store (registered through gateway.db.registry)."""
