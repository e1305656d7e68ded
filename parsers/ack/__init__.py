"""X12 acknowledgments rendered from parse findings: TA1 (interchange) and 999 (groups).

Pure: bytes and models in, bytes out, no I/O. ``acknowledge`` is the entry point; ``ta1`` and
``x999`` hold the renderers and document the acknowledgment policy.
"""

from parsers.ack.acknowledge import Acknowledgment, Acknowledgments, acknowledge
from parsers.ack.ta1 import render_ta1
from parsers.ack.x999 import render_999

__all__ = ["Acknowledgment", "Acknowledgments", "acknowledge", "render_999", "render_ta1"]
