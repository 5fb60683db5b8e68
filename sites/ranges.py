"""A site's extension range cut into blocks that number patterns can express exactly.

Kamailio's dialplan wants regular expressions (``^4[0-9]{3}$``), Asterisk's dialplan wants extension
patterns (``_4XXX``): both are written from the same blocks, so they always cover the same numbers.
"""
from __future__ import annotations

from typing import NamedTuple


class Block(NamedTuple):
    """Numbers ``prefix`` + one digit in ``first..last`` + ``free`` more digits of any value."""

    prefix: str
    first: int
    last: int
    free: int


def range_blocks(start: int, end: int) -> list[Block]:
    blocks = []
    for digits in range(len(str(start)), len(str(end)) + 1):
        lo, hi = max(start, 10 ** (digits - 1) if digits > 1 else 0), min(end, 10 ** digits - 1)
        while lo <= hi:
            k = 0
            while k + 1 < digits and lo % 10 ** (k + 1) == 0 and lo + 10 ** (k + 1) - 1 <= hi:
                k += 1
            step = 10 ** k
            first = (lo // step) % 10
            count = 1
            while first + count <= 9 and lo + (count + 1) * step - 1 <= hi:
                count += 1
            text = str(lo)
            blocks.append(Block(text[: len(text) - k - 1], first, first + count - 1, k))
            lo += count * step
    return blocks


def _digit(block: Block) -> str:
    return str(block.first) if block.first == block.last else f"[{block.first}-{block.last}]"


def regex_patterns(start: int, end: int) -> list[str]:
    """Regular expressions that together match exactly start..end (e.g. ``^[1-3][0-9]{3}$``)."""
    out = []
    for b in range_blocks(start, end):
        tail = f"[0-9]{{{b.free}}}" if b.free > 1 else ("[0-9]" if b.free == 1 else "")
        out.append(f"^{b.prefix}{_digit(b)}{tail}$")
    return out


def asterisk_patterns(start: int, end: int) -> list[str]:
    """Asterisk extension patterns that together match exactly start..end (e.g. ``_[1-3]XXX``)."""
    return [f"_{b.prefix}{_digit(b)}{'X' * b.free}" for b in range_blocks(start, end)]


def _with_digits(start: int, end: int, digits: int) -> tuple[int, int] | None:
    """The part of ``start..end`` written with exactly ``digits`` digits, or None."""
    lo, hi = max(start, 10 ** (digits - 1) if digits > 1 else 0), min(end, 10 ** digits - 1)
    return (lo, hi) if lo <= hi else None


def prefix_of(short: tuple[int, int], long: tuple[int, int]) -> tuple[int, int] | None:
    """A number of the range ``short`` that a longer number of the range ``long`` begins with, as
    ``(that number, the longer one)`` — e.g. ``(2000, 20000)`` for 2000–2999 and 20000–20999 — or None.

    Per length: the ``d``-digit numbers ``long`` holds begin with the ``d'``-digit numbers from
    ``lo // 10**(d - d')`` to ``hi // 10**(d - d')``; ``short`` shadows ``long`` where that meets it.
    """
    for short_digits in range(len(str(short[0])), len(str(short[1])) + 1):
        part = _with_digits(*short, short_digits)
        if part is None:
            continue
        for long_digits in range(max(short_digits + 1, len(str(long[0]))), len(str(long[1])) + 1):
            other = _with_digits(*long, long_digits)
            if other is None:
                continue
            shift = 10 ** (long_digits - short_digits)
            lo, hi = max(part[0], other[0] // shift), min(part[1], other[1] // shift)
            if lo <= hi:
                return lo, max(other[0], lo * shift)
    return None
