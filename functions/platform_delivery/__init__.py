"""Lambda: the delivery queue -> signed events to the platform's endpoints."""
