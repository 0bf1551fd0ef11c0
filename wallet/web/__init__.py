"""The web layer every HTML surface shares: one Jinja environment (shopper pages, the
marketers' console and unsubscribe page, emails), one CSRF scheme, one way to keep a
signed-in browser's session cookie (a shopper's page session or a staff key), and the
headers every HTML reply carries.

Like the kernel (db, clock, codes, settings) it imports no domain: who the cookie's token
belongs to is for the domain that issued it (``wallet.signin`` for shoppers,
``wallet.auth`` for staff keys)."""
