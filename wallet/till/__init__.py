"""The web till (/till): a counter tablet's page over the POS services."""
