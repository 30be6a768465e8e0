"""Candidate names as the LGA ElectionResults schema writes them: surname and forenames apart.

The platform stores one name per candidacy. Names imported from councils' LGA files are
stored "Forenames SURNAME" (``results.importers.lga``), so the surname is the run of
all-capital words at the end ("Rose DE LA FONT", "Tony O'BRIEN", "Rodrigo CAPUCHO PAULO").
A name without such a run ("Simon Andrew Wright": a few councils' files, and every name from
Democracy Club) has its last word as surname, kept as written: the split is a guess, and
upper-casing it would change a stored spelling.
"""

from __future__ import annotations


def _is_capitalised_word(token: str) -> bool:
    letters = [ch for ch in token if ch.isalpha()]
    # Two letters at least: a capital initial ("J") is a forename, not a surname.
    return len(letters) >= 2 and token == token.upper()


def split_name(name: str) -> tuple[str, str]:
    """``(surname, forenames)`` of a stored candidate name (see the module docstring)."""
    tokens = name.split()
    if not tokens:
        return "", ""
    start = len(tokens)
    while start > 0 and _is_capitalised_word(tokens[start - 1]):
        start -= 1
    if start == len(tokens) or start == 0:
        # No capitalised surname, or the whole name in capitals: the last word is the surname.
        return tokens[-1], " ".join(tokens[:-1])
    return " ".join(tokens[start:]), " ".join(tokens[:start])
