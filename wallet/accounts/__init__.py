"""The one account read model: what an account shows (balance, pending, debt, next
expiry, pending lots, tier and the progress to the next one, the shopper's language and
referral), read for one account or many in a few IN queries. /me, the shopper pages, the
till's identify and the passes all read accounts through here (``wallet.accounts.read``),
so they cannot drift apart.

It sits above the domains it reads (ledger, members, rules) and below those that show
accounts (receipts, passsync, and the pages and API above them)."""
