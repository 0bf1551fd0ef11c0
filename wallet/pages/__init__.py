"""The shopper's pages: join, the card with its QR, history, cashback, sign-in by email code.

Server-rendered (Jinja), one request per page (the QR inline as SVG, CSS inline), Russian
unless the browser prefers English. Sessions are a random token in an HttpOnly cookie,
stored hashed; every form carries a CSRF token matched against a cookie.
"""
