"""The loyalty wallet service: cards, the points ledger, POS receipts, passes, offers."""
