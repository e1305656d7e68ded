"""Resolution: the outbound documents that return credit balances (refunds, offsets, reports)."""
