"""Bringing members, cards, opening balances and purchase history from an old program."""
