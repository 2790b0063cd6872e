"""Swedish organisation numbers: one normalisation for every form seen in the sources.

Forms seen: ``556000-0000``, ``5560000000``, ``165560000000`` (SCB's 12-digit PeOrgNr),
``SE556000000001`` (VAT number), with spaces or dashes. A 10-digit number whose third digit is 0 or 1
is a personal identity number (a month), never an organisation number: callers must drop it
before anything is validated, logged or stored.
"""
from __future__ import annotations

import re

_NON_DIGITS = re.compile(r"\D")


def luhn_ok(digits: str) -> bool:
    """Luhn check over a 10-digit number (weights 2,1,2,1,... from the left on the first nine)."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(digits[:9]):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10 == int(digits[9])


def digits_of(raw: str | None) -> str | None:
    """The 10 significant digits of any accepted form, or None when the shape is unknown."""
    if raw is None:
        return None
    text = raw.strip().upper()
    digits = _NON_DIGITS.sub("", text)
    if text.startswith("SE"):  # VAT number: SE + 10 digits + 01
        return digits[:10] if len(digits) == 12 and digits.endswith("01") else None
    if len(digits) == 12 and digits[:2] in {"16", "18", "19", "20"}:
        return digits[2:]
    return digits if len(digits) == 10 else None


def is_personal_number(raw: str | None) -> bool:
    """True for anything that looks like a personnummer/samordningsnummer (third digit 0 or 1,
    or a 12-digit form with century 18/19/20). Such values must never be stored."""
    if raw is None:
        return False
    digits = _NON_DIGITS.sub("", raw)
    is_vat = raw.strip().upper().startswith("SE")
    if not is_vat and len(digits) == 12 and digits[:2] in {"18", "19", "20"}:
        return True
    core = digits_of(raw)
    return core is not None and core[2] in "01"


def normalise(raw: str | None) -> str | None:
    """10-digit organisation number, or None if ``raw`` is not a valid one (wrong shape, failed
    Luhn check, or a personal identity number)."""
    core = digits_of(raw)
    if core is None or core[2] in "01" or not luhn_ok(core):
        return None
    return core


def invalid_reason(raw: str | None) -> str | None:
    """Why ``raw`` is not a valid organisation number, or None when it is."""
    if raw is None or not raw.strip():
        return "empty"
    core = digits_of(raw)
    if core is None:
        return "not 10 digits in any known form"
    if core[2] in "01":
        return "personal identity number (third digit 0/1)"
    if not luhn_ok(core):
        return "check digit (Luhn) fails"
    return None


def with_check_digit(nine: str) -> str:
    """Complete nine digits with their Luhn check digit (used by the sample generator and tests)."""
    for d in "0123456789":
        if luhn_ok(nine + d):
            return nine + d
    raise ValueError(nine)
