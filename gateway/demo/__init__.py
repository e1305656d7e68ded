"""A realistic, deterministic demo half-year with planted credit balances and their answers.

``generate(out_dir, claims=N, seed=S, months=M)`` writes 837 batches, 835 payment runs, a
practice-management ledger export, ``manifest.json`` and ``answers.json`` for ``M`` months
(six by default) of ``N`` claims each. See ``generate`` for the layout, ``planted`` for the
credit balances the answers list, and ``calendar`` for the months and reconciliations.
"""

from gateway.demo.generate import CREDITS_COMMAND, Checkpoint, DemoError, Manifest, generate

__all__ = ["CREDITS_COMMAND", "Checkpoint", "DemoError", "Manifest", "generate"]
