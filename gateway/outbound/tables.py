"""Tables of gateway.outbound (registered through gateway.db.registry)."""
