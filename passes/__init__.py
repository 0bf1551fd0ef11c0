"""Card state -> Apple .pkpass, Google Wallet bodies and save links, QR codes. No DB, no web."""
