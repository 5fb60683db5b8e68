"""BLF keys (monitored extensions) as text, and the one check every way in applies to them.

A key is ``(extension, label)``; a user's keys are an ordered list, key N on the phone's Nth BLF button.
Three ways in, one rule (``problems``):

* the edit page: one key per line, ``4003`` or ``4003, Reception`` (:func:`parse_lines`, errors name the line);
* the CSV column ``blf``: ``4003;4004:Reception`` (:func:`parse_cell` / :func:`format_cell`; a label cannot
  hold ``;``: the display-name grammar already refuses it, it delimits SIP headers too);
* the API: a list of ``{position, extension, label}`` (``users.api.serializers``).

A key must name an extension of the estate (a ``SipUser`` of any site — a delegation's receptionist watches
other sites too), not the user's own, each at most once, at most ``MAX_MONITORED_EXTENSIONS``.
"""
from __future__ import annotations

from typing import Iterable

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.utils.translation import gettext

from voipadmin import grammar

from .models import MAX_MONITORED_EXTENSIONS, MonitoredExtension, SipUser

Key = tuple[int, str]  # (extension, label; "" = the monitored user's display name)
LABEL_MAX = MonitoredExtension._meta.get_field("label").max_length


def _extension(raw: str) -> int | None:
    raw = raw.strip()
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) >= 1:
        return int(raw)
    return None


def label_problem(label: str) -> str | None:
    if len(label) > LABEL_MAX:
        return gettext("the label is longer than %(max)d characters") % {"max": LABEL_MAX}
    try:
        grammar.validate_display_name(label)
    except ValidationError as exc:
        return " ".join(exc.messages)
    return None


def _key(extension_text: str, label: str) -> Key:
    ext = _extension(extension_text)
    if ext is None:
        raise ValueError(gettext("%(value)s is not an extension number") % {"value": repr(extension_text.strip())})
    label = label.strip()
    if label and (problem := label_problem(label)):
        raise ValueError(problem)
    return ext, label


def parse_lines(text: str) -> tuple[list[Key], list[int], list[str]]:
    """The edit page's text: one key per line, ``extension[, label]``; blank lines are skipped.

    Returns the keys, the line each came from, and the errors (each naming its line).
    """
    keys, lines, errors = [], [], []
    for num, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        ext, _, label = line.partition(",")
        try:
            keys.append(_key(ext, label))
            lines.append(num)
        except ValueError as exc:
            errors.append(gettext("Line %(line)d: %(problem)s.") % {"line": num, "problem": exc})
    return keys, lines, errors


def format_lines(keys: Iterable[Key]) -> str:
    return "\n".join(f"{ext}, {label}" if label else str(ext) for ext, label in keys)


def parse_cell(cell: str) -> tuple[list[Key], list[str]]:
    """The CSV cell: ``4003;4004:Reception`` (empty: no keys). Errors name the key (1-based)."""
    keys, errors = [], []
    parts = [p for p in (cell or "").split(";") if p.strip()]
    for n, part in enumerate(parts, start=1):
        ext, _, label = part.partition(":")
        try:
            keys.append(_key(ext, label))
        except ValueError as exc:
            errors.append(gettext("key %(key)d: %(problem)s") % {"key": n, "problem": exc})
    return keys, errors


def format_cell(keys: Iterable[Key]) -> str:
    return ";".join(f"{ext}:{label}" if label else str(ext) for ext, label in keys)


def problems(keys: list[Key], *, own_extension: int | None, known: set[int] | None = None) -> list[tuple[int, str]]:
    """What is wrong with a user's list of keys: ``(index in keys, reason)``; index -1 is the list as a whole.

    ``known``: extensions that exist (the caller looked them up for many users at once); otherwise one query.
    """
    found: list[tuple[int, str]] = []
    if len(keys) > MAX_MONITORED_EXTENSIONS:
        found.append((-1, gettext("at most %(max)d keys, not %(count)d")
                      % {"max": MAX_MONITORED_EXTENSIONS, "count": len(keys)}))
    if known is None:
        known = existing({ext for ext, _ in keys})
    first: dict[int, int] = {}
    for i, (ext, label) in enumerate(keys):
        if own_extension is not None and ext == own_extension:
            found.append((i, gettext("%(extension)d is the user's own extension") % {"extension": ext}))
        elif ext in first:
            found.append((i, gettext("%(extension)d is already key %(key)d") % {"extension": ext, "key": first[ext] + 1}))
        elif ext not in known:
            found.append((i, gettext("%(extension)d is not an extension of the estate") % {"extension": ext}))
        first.setdefault(ext, i)
        if label and (problem := label_problem(label)):
            found.append((i, problem))
    return found


def existing(extensions: set[int]) -> set[int]:
    """Which of these extensions belong to a user of the estate (any site: one query, none if empty)."""
    if not extensions:
        return set()
    return set(SipUser.objects.filter(extension__in=sorted(extensions)).values_list("extension", flat=True))


def keys_prefetch(to_attr: str | None = None) -> Prefetch:
    """The users' keys in order, each with its monitored user and site: one query for a whole page of users."""
    return Prefetch("monitored_extensions", to_attr=to_attr, queryset=MonitoredExtension.objects
                    .select_related("monitored__site").order_by("position"))


def stored(user: SipUser) -> list[Key]:
    """A user's keys as stored (label empty = the display name), in order."""
    if not user.pk:
        return []
    return [(ext, label) for ext, label in MonitoredExtension.objects.filter(user_id=user.pk).order_by("position")
            .values_list("monitored__extension", "label")]


def presentity_uri(user: SipUser) -> str:
    """What a phone SUBSCRIBEs to for this key (``Event: dialog``): the extension at its own site's SIP domain,
    the URI Kamailio's presence keeps the state under (docs/notes: the BLF contract)."""
    return f"sip:{user.extension}@{user.site.sip_domain}"


def shown_label(key: MonitoredExtension, site_ids: frozenset[int] | None) -> str:
    """The key's label as a reader sees it: the stored one, else the monitored user's display name — but a
    site-limited reader (``voipadmin.scope``) is not told the name of another site's user (those users do not
    exist on its pages): the extension stands in for it. (``key.monitored`` loaded with it.)"""
    if key.label:
        return key.label
    if site_ids is None or key.monitored.site_id in site_ids:
        return key.monitored.name
    return str(key.monitored.extension)
