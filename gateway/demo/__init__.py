"""A realistic, deterministic demo month with planted credit balances and their answers.

``generate(out_dir, claims=N, seed=S)`` writes 837 batches, 835 payment runs, a
practice-management ledger export, ``manifest.json`` and ``answers.json``. See ``generate`` for
the layout and ``planted`` for the credit balances the answers list.
"""

from gateway.demo.generate import CREDITS_COMMAND, Checkpoint, DemoError, Manifest, generate

__all__ = ["CREDITS_COMMAND", "Checkpoint", "DemoError", "Manifest", "generate"]
