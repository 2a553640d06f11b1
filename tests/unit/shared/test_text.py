"""The invisible characters, checked against the Unicode database Python ships (material we did not write)."""

from __future__ import annotations

import sys
import unicodedata

from shared.text import INVISIBLE, strip_invisible

KEPT_JOINERS = {"\u200c", "\u200d"}  # zero-width non-joiner and joiner: part of Persian, Indic and emoji spelling


def test_every_format_and_control_character_is_invisible_but_the_joiners_and_line_breaks() -> None:
    format_chars = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"]
    controls = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cc"]
    assert len(format_chars) > 150
    missed = [f"U+{ord(c):04X}" for c in format_chars if c not in KEPT_JOINERS and not INVISIBLE.fullmatch(c)]
    assert missed == []
    assert [c for c in KEPT_JOINERS if INVISIBLE.fullmatch(c)] == []
    assert sorted(c for c in controls if not INVISIBLE.fullmatch(c)) == ["\t", "\n", "\r"]


def test_letters_of_every_script_marks_and_spaces_stay() -> None:
    visible = [
        chr(c)
        for c in range(sys.maxunicode + 1)
        if unicodedata.category(chr(c))[0] in "LMNPSZ" and chr(c) not in "\u115f\u1160\u3164\uffa0\u034f"
    ]
    assert [f"U+{ord(c):04X}" for c in visible if INVISIBLE.fullmatch(c)] == []


def test_stripping_keeps_the_visible_text_whole() -> None:
    assert strip_invisible("Zahlt\u00ad am\u200b 1.\u202e12.\u2066") == "Zahlt am 1.12."
    assert strip_invisible("Line one\nline two\tend") == "Line one\nline two\tend"


def test_joiners_stay_only_where_they_join() -> None:
    assert strip_invisible("می\u200cخواهم") == "می\u200cخواهم"  # Persian: the non-joiner is spelling
    assert strip_invisible("👩\u200d💻") == "👩\u200d💻"  # an emoji sequence
    assert strip_invisible("\u200d\u200c \u200ba\u200d \u200c") == " a "
    assert strip_invisible("\u200c\u200d" * 10) == ""
