"""callpay's AWS CDK app: one stack built from a few named constructs, one per concern."""

from infra.paths import ensure_functions_importable

# The table schema and the Secrets model are imported from functions/, so the
# definitions the functions use and the ones deployed are the same code.
ensure_functions_importable()
