"""Lambda: the receipt queue's consumer, emailing receipts through SES."""
