"""Lambda: the platform routes (webhook endpoints, invoices) of the HTTP API."""
