"""What a shopper sees of their account over the API: /api/v1/me (the account, its
history, its cards' QR codes, signing out) and support's look at one account."""
