"""Every hand-written statement of the Кошелёк integration, named (``$n`` placeholders;
see ``db.sql``)."""

from __future__ import annotations

from wallet import db

USERS = db.sql(
    "SELECT m.phone AS phone, c.card_number AS card_number FROM member m "
    "LEFT JOIN koshelek_card c ON c.account_id = m.account "
    "WHERE m.phone IS NOT NULL AND m.phone <> '' ORDER BY m.id"
)
"""Every shopper Кошелёк can find by phone, with the card it holds for them if any (its
user list)."""
