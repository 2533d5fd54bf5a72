"""Lambda: the table's stream of outbox events -> the platform's delivery queue."""
