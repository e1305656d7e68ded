"""Tables of gateway.reconcile (registered through gateway.db.registry)."""
