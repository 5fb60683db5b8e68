"""A signed-in browser for the production stack: a real session (login form, CSRF), every page it can reach.

Talks HTTP to gunicorn on loopback the way nginx would hand requests over (``X-Forwarded-Proto: https``,
``X-Forwarded-For``, the public host name), so Django runs exactly as behind the proxy: secure cookies,
HSTS, no redirect to HTTPS. Cookies are kept by hand: they are ``Secure`` and the wire is plain HTTP.
"""
from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from urllib.parse import urljoin, urlsplit

import httpx

CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


@dataclass
class Fetched:
    url: str
    status: int
    headers: httpx.Headers
    content_type: str
    referrer: str
    body: bytes = b""

    @property
    def is_html(self) -> bool:
        return self.content_type.startswith("text/html")


class _Links(HTMLParser):
    """Pages (a href, GET forms, htmx hx-get) and assets (link href, script src, img src) of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.pages: list[str] = []
        self.assets: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.pages.append(a["href"])
        if tag == "form" and (a.get("method") or "get").lower() == "get" and a.get("action"):
            self.pages.append(a["action"])
        if a.get("hx-get"):
            self.pages.append(a["hx-get"])
        rel = set((a.get("rel") or "").lower().split())
        if tag == "link" and a.get("href") and rel & {"stylesheet", "icon", "preload", "modulepreload"}:
            self.assets.append(a["href"])
        if tag in ("script", "img") and a.get("src"):
            self.assets.append(a["src"])


@dataclass
class Browser:
    base_url: str
    host: str
    client_address: str = "192.0.2.7"
    cookies: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base_url, follow_redirects=False, timeout=60)

    def close(self) -> None:
        self.http.close()

    def headers(self, extra: dict | None = None) -> dict:
        headers = {"Host": self.host, "X-Forwarded-Proto": "https", "X-Forwarded-For": self.client_address,
                   "Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Encoding": "gzip"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers | (extra or {})

    def _keep_cookies(self, response: httpx.Response) -> None:
        for raw in response.headers.get_list("set-cookie"):
            jar = SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def get(self, path: str, headers: dict | None = None) -> httpx.Response:
        response = self.http.get(path, headers=self.headers(headers))
        self._keep_cookies(response)
        return response

    def post(self, path: str, data: dict, referer: str) -> httpx.Response:
        response = self.http.post(path, data=data, headers=self.headers({"Referer": referer,
                                                                          "Origin": f"https://{self.host}"}))
        self._keep_cookies(response)
        return response

    def log_in(self, username: str, password: str) -> httpx.Response:
        """The login form, as a person fills it in: its CSRF token, then the POST."""
        form = self.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert form.status_code == 200 and token, f"login page: {form.status_code}"
        return self.post("/login/", {"csrfmiddlewaretoken": token.group(1), "username": username,
                                     "password": password}, referer=f"https://{self.host}/login/")

    def enrol_two_factor(self) -> httpx.Response:
        """An administrator's first log-in where two-factor login is required: the key the enrolment page shows,
        typed into an authenticator (accounts.twofactor.totp), and the code sent back."""
        from accounts.twofactor import totp

        page = self.get("/two-factor/")
        secret = re.search(r'id="twofactor-secret">([^<]+)<', page.text)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert page.status_code == 200 and secret and token, f"enrolment page: {page.status_code}"
        return self.post("/two-factor/", {"csrfmiddlewaretoken": token.group(1), "code": totp(secret.group(1))},
                         referer=f"https://{self.host}/two-factor/")

    def local(self, url: str, base: str) -> str | None:
        """``url`` (relative to ``base``) as a path + query on our host, or None when it leaves it."""
        parts = urlsplit(urljoin(f"https://{self.host}{base}", url))
        if parts.scheme not in ("http", "https") or parts.hostname != self.host:
            return None
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def crawl(self, seeds: list[str], *, skip, per_pattern: int, pattern_of) -> tuple[dict[str, Fetched],
                                                                                     dict[str, Fetched]]:
        """Breadth-first over every page reachable from ``seeds``; returns (pages, static assets) fetched.

        ``skip(path)`` leaves a link alone (logout, ...); ``pattern_of(path)`` names the URL pattern a path
        resolves to, and at most ``per_pattern`` paths of one pattern are fetched (the audit log of the
        demo estate alone has hundreds of entries, each as good as the next). One query-string variant
        per path.
        """
        pages: dict[str, Fetched] = {}
        assets: dict[str, Fetched] = {}
        per: dict[str, int] = {}
        queued: set[str] = set()
        with_query: set[str] = set()
        todo = deque((seed, "(seed)") for seed in seeds)

        def enqueue(path: str | None, referrer: str) -> None:
            if path is None or path in queued or skip(path):
                return
            bare, _, query = path.partition("?")
            if query:
                if bare in with_query:
                    return
                with_query.add(bare)
            pattern = pattern_of(bare)
            if per.get(pattern, 0) >= per_pattern:
                return
            per[pattern] = per.get(pattern, 0) + 1
            queued.add(path)
            todo.append((path, referrer))

        for seed in seeds:
            queued.add(seed)
        while todo:
            path, referrer = todo.popleft()
            response = self.get(path)
            fetched = Fetched(path, response.status_code, response.headers,
                              response.headers.get("content-type", ""), referrer)
            pages[path] = fetched
            if response.is_redirect:
                enqueue(self.local(response.headers["location"], path), path)
                continue
            if response.status_code != 200 or not fetched.is_html:
                continue
            links = _Links()
            links.feed(response.text)
            for href in links.pages:
                enqueue(self.local(href, path), path)
            for src in links.assets:
                asset = self.local(src, path)
                if asset and asset not in assets:
                    assets[asset] = self._asset(asset, path)
        return pages, assets

    def _asset(self, path: str, referrer: str) -> Fetched:
        response = self.get(path)
        return Fetched(path, response.status_code, response.headers, response.headers.get("content-type", ""),
                       referrer, response.content)

    def asset_references(self, assets: dict[str, Fetched]) -> dict[str, Fetched]:
        """What the stylesheets load in turn (fonts, images), fetched."""
        more: dict[str, Fetched] = {}
        for path, css in assets.items():
            if not css.content_type.startswith("text/css") or css.status != 200:
                continue
            for ref in CSS_URL.findall(css.body.decode("utf-8", "replace")):
                if ref.startswith(("data:", "#")):
                    continue
                target = self.local(ref, path)
                if target and target not in assets and target not in more:
                    more[target] = self._asset(target, path)
        return more
