"""The domain: money, payment requests, their state machine and who may act on them.

Nothing in this package imports AWS or Stripe code, so it is tested with the network off.
"""
