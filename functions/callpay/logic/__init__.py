"""Use cases: what the handlers ask for, written against the ports (no AWS or Stripe imports)."""
