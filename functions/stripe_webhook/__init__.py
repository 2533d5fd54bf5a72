"""Lambda: Stripe's webhook deliveries."""
