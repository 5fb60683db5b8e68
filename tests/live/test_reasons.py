"""A node's reason and a call-control sentence read the same in English as the poller and live.actions wrote
them (English stays the default; the page translates phrase by phrase, the audit log keeps English)."""
from django.utils import translation

from live.callcontrol import CallControlError, Sentence
from live.reasons import translate_reason
from live.templatetags.live import age, health

REASONS = [
    "connection refused",
    "timed out after 1.0s connecting",
    "timed out after 0.5s",
    "CoreShowChannels: timed out after 1.0s waiting for CoreShowChannels",
    "slow: 812 ms round trip; ARI: connection refused",
    "dispatcher states unknown: authentication failed (HTTP 401)",
    "ITSP not registered: itsp-main, itsp-backup",
    "E1 span 1, span 2 not up",
    "ARI: answered by 'ast-x', not by this node ('ast-y')",
    "unexpected error: ValueError: boom",
    "misconfigured: AMI secret cannot be decrypted — re-enter it on the Asterisk node's page",
    "something a node said that nobody foresaw",
    "",
]


def test_reasons_read_in_english_exactly_as_stored():
    with translation.override("en"):
        assert [translate_reason(r) for r in REASONS] == REASONS


def test_the_page_words_for_states_and_ages_are_the_stored_ones_in_english():
    with translation.override("en"):
        assert [health(s) for s in ("up", "degraded", "down", "unknown", "disabled", "weird")] == \
            ["up", "degraded", "down", "unknown", "disabled", "weird"]
        assert [age(v) for v in (None, 4, 180, 7200, 200000)] == ["never", "4s", "3 min", "2 h", "2 d"]


def test_a_call_control_refusal_keeps_english_for_the_audit_log_whatever_the_reader_speaks():
    error = CallControlError(Sentence("%(node)s did not answer (%(why)s); nothing was done.", node="ast-central",
                                      why="connection refused"), node_down=True)
    with translation.override("es"):
        assert error.message == "ast-central did not answer (connection refused); nothing was done."
        assert isinstance(error.shown(), str) and "ast-central" in error.shown()
    assert CallControlError("plain words").shown() == "plain words"
