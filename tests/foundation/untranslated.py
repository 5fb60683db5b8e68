"""Finding English left on a Spanish page (issue 12): the texts a page shows in both languages, minus data.

A page is rendered in English and in Spanish. A piece of text that is the same in both was not translated
unless every word in it is data (the estate's own names: sites, users, nodes, trunks, audit messages...),
a technical name (Kamailio, PJSIP, DDI...), a number, or a word Spanish writes the same way. What is left is
reported with the page, so the message can be marked and translated.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

from django.apps import apps
from django.db import models

SKIP_TAGS = {"script", "style", "code", "pre", "svg", "textarea", "kbd", "samp"}
ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")
WORD = re.compile(r"[A-Za-zÀ-ÿ]+")

#: protocol, product and unit names: the same in any language
TECHNICAL = set("""
kamailio asterisk pjsip sip ami ari rpc json jsonrpc itsp ddi ddis cdr cdrs pstn nat udp tcp tls ws wss ulaw alaw
opus api csv url uri uris dtmf ivr agi fastagi totp qr ok id ids utc http https voipadmin htmx gsm dahdi pri isdn
uacreg usrloc dispatcher dialplan subscriber realm ha ip ipv mailto otpauth cet cest gmt wal sqlite postgresql redis
rabbitmq celery beat prometheus healthz metrics token tokens swagger redoc bis rfc mb kb ms www example test invalid
chanspy originate hangup stasis moh xml ssh noc endpoint exten module reload res so att ess bri cpe net lucent
nortel dms ni qsig euroisdn host span realm proxy keepalive round robin q sig
""".split())
#: the language picker names each language in itself
LANGUAGE_NAMES = {"english", "español"}
#: words Spanish spells as English does (the ones these pages use)
SAME = set("""
no total general local normal central error hotel radio idea final global original via fax web online hardware
software email e mail ok admin
""".split())


class _Texts(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.skipping = 0
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in SKIP_TAGS:
            self.skipping += 1
        attrs = dict(attrs)
        if "data-i18n-skip" in attrs or (tag == "a" and str(attrs.get("href", "")).startswith("otpauth:")) or (tag == "select" and attrs.get("name") == "time_zone"):
            self.skipping += 1
            self._skip_tag = tag
        for name in ATTRIBUTES:
            if attrs.get(name) and not self.skipping:
                self.found.append(attrs[name])
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.found.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in SKIP_TAGS or tag == getattr(self, "_skip_tag", None):
            self.skipping = max(0, self.skipping - 1)

    def handle_data(self, data):
        text = " ".join(data.split())
        if text and not self.skipping:
            self.found.append(text)


def texts(html: str) -> set[str]:
    parser = _Texts()
    body = html.split("<body", 1)[-1]
    parser.feed(body)
    head_title = re.search(r"<title>(.*?)</title>", html, re.S)
    found = set(parser.found)
    if head_title:
        found.add(" ".join(head_title.group(1).split()))
    return found


def data_words() -> set[str]:
    """Every word of every short text the database holds: the estate's names are not the UI's to translate."""
    words: set[str] = set()
    for model in apps.get_models():
        fields = [f.attname for f in model._meta.concrete_fields
                  if isinstance(f, (models.CharField, models.TextField)) and not getattr(f, "secret", False)]
        if not fields or model._meta.app_label in ("sessions", "admin", "contenttypes"):
            continue
        try:
            for row in model.objects.values_list(*fields)[:5000]:
                for value in row:
                    if isinstance(value, str):
                        words.update(w.lower() for w in WORD.findall(value))
        except Exception:  # a table this database lacks (another engine's view): no data words from it
            continue
    for model in apps.get_models():  # JSON fields (audit changes) hold names too
        for f in model._meta.concrete_fields:
            if isinstance(f, models.JSONField) and model._meta.app_label == "voipadmin":
                for value in model.objects.values_list(f.attname, flat=True)[:5000]:
                    words.update(w.lower() for w in WORD.findall(str(value)))
    return words


def untranslated(english: set[str], spanish: set[str], data: set[str]) -> list[str]:
    """Texts the Spanish page shows exactly as the English one, with a word that is not data."""
    left = []
    for text in sorted(english & spanish):
        words = [w.lower() for w in WORD.findall(text)]
        if any(len(w) > 2 and w not in data and w not in TECHNICAL and w not in SAME
               and w not in LANGUAGE_NAMES for w in words):
            left.append(text)
    return left
