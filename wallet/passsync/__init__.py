"""Passes kept in sync on phones: download links, the PassKit web service, APNs pushes and
Google Wallet updates, all driven by the outbox.

One module per job: ``links`` (signed links and pass tokens), ``view`` (what a pass
shows), ``rows`` (pass rows and their tags), ``webservice`` (Apple's PassKit web service
and the .pkpass download), ``refresh`` (rebuilding passes after a change), ``push``
(APNs), ``google`` (Google Wallet objects and messages), ``messages`` (a marketer's
message on the passes), ``outbox`` (the job kinds and how to queue them), ``jobs`` (the
worker's handlers).
"""

# Importing pass sync serves the platform's pass-update door (see outbox's docstring).
from wallet.passsync import outbox as outbox
