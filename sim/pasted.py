"""Invisible characters that code pasted from a web page carries, taken out before Python reads it.

A zero-width space (one of the AWS documentation's own reward examples ends with one), a non-breaking
space for indentation, a byte-order mark in the middle of a file: each is a SyntaxError ("invalid
non-printable character") that the user cannot see. Outside string literals they are replaced (the
spaces by a space, the zero-width ones by nothing) and each replacement is reported with its line;
inside a string they are the user's text and stay.
"""
from __future__ import annotations

INVISIBLE = {
    "\u200b": ("", "zero-width space (U+200B)"), "\u200c": ("", "zero-width non-joiner (U+200C)"),
    "\u200d": ("", "zero-width joiner (U+200D)"), "\u2060": ("", "word joiner (U+2060)"),
    "\ufeff": ("", "byte-order mark (U+FEFF)"), "\u00a0": (" ", "non-breaking space (U+00A0)"),
    "\u202f": (" ", "narrow non-breaking space (U+202F)"), "\u2007": (" ", "figure space (U+2007)"),
}
QUOTES = ("'''", '"""', "'", '"')


def clean_pasted(source: str) -> tuple[str, list[tuple[int, str]]]:
    """(source with the invisible characters outside strings replaced, [(line, what was replaced)])."""
    out, found = [], []
    line, i, quote = 1, 0, None  # quote: the delimiter of the string literal we are in, if any
    while i < len(source):
        ch = source[i]
        if quote is None:
            if ch == "#":  # a comment: kept as it is up to the end of its line
                end = source.find("\n", i)
                end = len(source) if end < 0 else end
                out.append(source[i:end])
                i = end
                continue
            opening = next((q for q in QUOTES if source.startswith(q, i)), None)
            if opening is not None:
                quote = opening
                out.append(opening)
                i += len(opening)
                continue
            if ch in INVISIBLE:
                replacement, name = INVISIBLE[ch]
                out.append(replacement)
                found.append((line, name))
                i += 1
                continue
        else:
            if ch == "\\":  # an escaped character never closes the string
                out.append(source[i:i + 2])
                line += source[i:i + 2].count("\n")
                i += 2
                continue
            if source.startswith(quote, i):
                out.append(quote)
                i += len(quote)
                quote = None
                continue
            if ch == "\n" and len(quote) == 1:  # an unclosed one-line string: Python reports it, not us
                quote = None
        out.append(ch)
        line += ch == "\n"
        i += 1
    return "".join(out), found
