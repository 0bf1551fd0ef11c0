"""Plastic cards: batches printed with a secret activation code under a scratch layer,
anonymous until a shopper activates one and its points join their account."""
