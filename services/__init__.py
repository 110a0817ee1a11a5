"""PHR exchange services: consent, records and exchange, plus the code they share."""
