"""Lambda: the payment request routes of the HTTP API."""
