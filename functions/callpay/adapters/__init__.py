"""Adapters: the ports implemented on DynamoDB, Stripe and signed tokens."""
