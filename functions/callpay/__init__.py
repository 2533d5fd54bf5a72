"""callpay: in-call payments for telehealth video platforms (shared domain and adapters)."""
