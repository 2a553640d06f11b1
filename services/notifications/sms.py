"""SMS text and its cost: GSM-7 or UCS-2, and how many segments the carrier charges.

A text all in the GSM 03.38 alphabet travels in 7-bit septets (160 in one SMS, 153 per part of a longer one,
the extension characters ``€[]{}|^~\\`` taking two and never split over two parts); any other character makes the
whole message UCS-2 (70 UTF-16 units alone, 67 per part, a surrogate pair never split). The encoding itself is
the ``gsm0338`` codec's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
# Babel formats amounts with no-break spaces ("1 250,00 €"); phones show a plain space, and GSM-7 has no other.
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " "})


class TooManySegments(ValueError):
    def __init__(self, segments: int, maximum: int, encoding: str) -> None:
        super().__init__(f"the SMS needs {segments} {encoding} segments; the client allows at most {maximum}")
        self.segments = segments
        self.maximum = maximum
        self.encoding = encoding


@dataclass(frozen=True)
class SmsCost:
    encoding: Literal["GSM-7", "UCS-2"]
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def prepare(text: str) -> str:
    return text.translate(_SPACES).strip()


def _gsm_units(text: str) -> list[int] | None:
    """Septets per character, or None when a character is outside GSM 03.38."""
    try:
        return [len(ch.encode("gsm03.38")) for ch in text]
    except UnicodeEncodeError:
        return None


def _parts(units: list[int], single: int, part: int) -> int:
    if sum(units) <= single:
        return 1 if units else 0
    segments, used = 1, 0
    for n in units:  # a character's units stay together in one part
        if used + n > part:
            segments, used = segments + 1, 0
        used += n
    return segments


def cost(text: str) -> SmsCost:
    gsm = _gsm_units(text)
    if gsm is not None:
        return SmsCost("GSM-7", sum(gsm), _parts(gsm, GSM_SINGLE, GSM_PART))
    ucs2 = [len(ch.encode("utf-16-le")) // 2 for ch in text]
    return SmsCost("UCS-2", sum(ucs2), _parts(ucs2, UCS2_SINGLE, UCS2_PART))


def checked(text: str, max_segments: int) -> tuple[str, SmsCost]:
    """The text as it will be sent and its cost; refused when it needs more segments than the client allows."""
    text = prepare(text)
    found = cost(text)
    if found.segments > max_segments:
        raise TooManySegments(found.segments, max_segments, found.encoding)
    return text, found
