"""Passes kept in sync on phones: download links, the PassKit web service, APNs pushes and
Google Wallet updates, all driven by the outbox."""
