"""One CSRF scheme for every HTML form (the shopper pages and the marketers' console).

A form's token is an HMAC, under the server secret, of what identifies the browser's
session: a page session's token hash, the console's staff key hash, or (before sign-in)
a random per-browser cookie. A site that can plant a cookie still cannot make a token
that matches it without the secret, and a token taken from one session is worthless in
another. Tokens are compared in constant time, as bytes, so any text a form carries
(``csrf=é``) is simply a mismatch.
"""

from __future__ import annotations

from wallet import codes

PURPOSE = "csrf"


def token(binding: str) -> str:
    """The token forms of the session identified by ``binding`` carry."""
    return codes.mac(PURPOSE, binding)


def valid(binding: str, sent: str | None) -> bool:
    """Whether ``sent`` is the token of ``binding`` (an empty binding never matches)."""
    if not binding or not sent:
        return False
    return codes.same_secret(sent, token(binding))


def page_binding(*, session_token: str | None, browser_id: str) -> str:
    """What a shopper page's token is bound to: the session when signed in, else the
    browser's random cookie."""
    if session_token:
        return f"session:{codes.sha256_hex(session_token)}"
    return f"browser:{browser_id}" if browser_id else ""


def console_binding(key: str) -> str:
    return f"console:{codes.sha256_hex(key)}" if key else ""


def till_binding(session_token: str) -> str:
    """The web till's requests carry a token bound to its session (in a header: the page
    talks JSON)."""
    return f"till:{codes.sha256_hex(session_token)}" if session_token else ""
