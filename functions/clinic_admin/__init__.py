"""Lambda: clinic setup routes (settings, Stripe account, reports)."""
