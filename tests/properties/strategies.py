"""Hypothesis budgets and the strings an operator could type, for the property tests of issue 10.

``budget(n)`` is the settings every property test here runs under: ``derandomize=True`` by default (the same
examples on every run and in CI, no example database under the working tree); ``VOIPADMIN_HYPOTHESIS=explore``
draws fresh examples, ten times as many. Profiles are applied per test (never loaded globally), so
schemathesis' own Hypothesis settings elsewhere in the suite are untouched.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

settings.register_profile("voipadmin-ci", derandomize=True, deadline=None, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])
settings.register_profile("voipadmin-explore", parent=settings.get_profile("voipadmin-ci"), derandomize=False)
PROFILE = "voipadmin-explore" if os.environ.get("VOIPADMIN_HYPOTHESIS") == "explore" else "voipadmin-ci"
SCALE = 10 if PROFILE == "voipadmin-explore" else 1


def budget(max_examples: int) -> settings:
    """``max_examples`` generated examples (times ten when exploring) on top of the explicit ``@example``s;
    0 runs the explicit ones only."""
    if max_examples == 0 and SCALE == 1:
        return settings(settings.get_profile(PROFILE), phases=[Phase.explicit])
    return settings(settings.get_profile(PROFILE), max_examples=max(max_examples, 1) * SCALE)


#: Characters that broke (or could break) a SIP header, a config line, a CSV cell or a number parser.
SPECIALS = ("\r", "\n", "\r\n", "\t", "\x00", "\x0b", "\x1b", "\x7f", "\x85", "\u2028", "\u2029", "\u200b",
            "\u200e", "\u200f", "\u202a", "\u202e", "\u2066", "\u2069", "\u061c", "\ufeff", "\ue000",
            "\U000e0041", '"', "'", "<", ">", "\\", ";", ",", ":", "@", "[", "]", "{", "}", "$", "%", "&", "=",
            "+", "?", "/", "#", "*", " ", "  ", "\u00a0", "\u3000", "²", "١", "٣", "é", "ß", "漢", "\u0301", "😀",
            "=cmd|' /C calc'!A0", "Via: SIP/2.0/UDP evil", "%0d%0a", "\\;", "\\\"", "sip:", "<sip:x@y>")

characters = st.one_of(
    st.sampled_from(SPECIALS),
    st.characters(codec="utf-8"),
    st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Co", "Zs", "Mn", "Nd", "No"], codec="utf-8"),
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
)

#: Any text up to 500 characters, leaning on the specials (lengths 0-500, as the issue asks).
nasty_text = st.one_of(
    st.lists(characters, max_size=12).map("".join),
    st.lists(characters, min_size=30, max_size=120).map("".join),
    st.builds(lambda s, n: (s * n)[:500], st.lists(characters, min_size=1, max_size=5).map("".join),
              st.integers(1, 500)),
)


def near(base: str) -> st.SearchStrategy[str]:
    """A valid value with something inserted, cut or repeated: most refusals are one character away."""
    base = base or "x"
    return st.one_of(
        st.just(base),
        st.builds(lambda i, s: base[:i] + s + base[i:], st.integers(0, len(base)), st.lists(characters, min_size=1,
                                                                                            max_size=3).map("".join)),
        st.builds(lambda n: (base * n)[:500], st.integers(2, 60)),
        st.builds(lambda s: s + base, st.sampled_from(SPECIALS)),
        st.builds(lambda s: base + s, st.sampled_from(SPECIALS)),
    )


#: The specials that broke a SIP header, a caller ID or a number parser (issue 10), tried most often.
ATTACKS = ("\r\n", "\n", "\r", "\x00", "\x1b", "\t", '"', "<", ">", ";", "\\", "\u202e", "\u200b", "\u2028", "²",
           "١", " ")


def inject(base: str) -> st.SearchStrategy[str]:
    """``base`` with one attack inserted somewhere: everything else about the value stays valid."""
    return st.builds(lambda i, s: base[:i] + s + base[i:], st.integers(0, len(base)), st.sampled_from(ATTACKS))


def attack(base: str) -> str:
    """The first example every field gets: a line break in the middle of its valid value (header injection)."""
    middle = len(base) // 2
    return base[:middle] + "\r\nVia: SIP/2.0/UDP x.invalid" + base[middle:]


def long(base: str, max_length: int | None) -> str:
    """The valid value repeated up to the field's width: where views cut (a caller ID's closing quote)."""
    return ((base or "x") * 500)[:max_length or 500]


def typed(base: str) -> st.SearchStrategy[str]:
    """What the property tests feed a text field whose stored value is ``base``: one attack injected into it
    half of the time, else anything (see ``near`` and ``nasty_text``)."""
    return st.one_of(inject(base), near(base), inject(base), nasty_text)
