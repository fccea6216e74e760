"""The one way commands print a result: personal data masked first, unless --show-pii.

Every command hands its result here (and so to :func:`aimon.render.present.show`, which
draws it as the result type registered) instead of writing it itself, so that no
identifier (user or session id, error type, endpoint, variant, model, request id, any
group key from a log) reaches any format without going through the same PII detector as
text (see docs/security.md); ``aimon sql`` included, whose rows are the stored values
themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

ShowPiiOption = Annotated[bool, typer.Option(
    "--show-pii", help="Print personal data as logged. Off by default: e-mails, phone numbers, cards, "
                       "SSNs, IBANs, keys and other values the PII detector finds are masked in every "
                       "format, in ids and names as in text.")]


def masker(show_pii: bool, con: Any = None):
    """The PII detector's masking, or None with --show-pii. ``con``: a DuckDB connection
    the command still has open, for the detector's pass (opening its own costs about
    0.02 s of start-up)."""
    if show_pii:
        return None
    from aimon.analysis.pii.scan import mask_values

    if con is None:
        return mask_values
    return lambda values: mask_values(values, con=con)


def masked(show_pii: bool, *values: Any) -> tuple[Any, ...]:
    """``values`` with personal data masked (see :mod:`aimon.render.masking`)."""
    from aimon.render.masking import mask

    return mask(masker(show_pii), *values)


def show(result: Any, fmt: Any, output: Path | None, *, show_pii: bool, tz: str = "UTC", con: Any = None,
         **context: Any) -> None:
    """Write the result in the chosen format, personal data masked unless ``show_pii``
    (on ``con``, when the command passes the connection it still has open)."""
    from aimon.render.present import show as present

    present(result, fmt, output, tz, mask=masker(show_pii, con), **context)


def exit_on(verdict: Any, gate_message: Any) -> None:
    """Exit 1 when the analysis's gate ``verdict`` failed, with the message render's
    ``gate_message`` writes from its breaches; the command decides nothing itself."""
    from aimon.errors import GateFailed

    if verdict.failed:
        raise GateFailed(gate_message(verdict))
