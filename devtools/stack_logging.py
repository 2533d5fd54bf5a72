"""How the local stack's processes log: the stack itself and its execution environments,
one line format, the chatty libraries quiet."""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(name)s %(message)s"
# Their INFO lines (credentials found, each Stripe request) say nothing new here.
CHATTY = ("botocore", "boto3", "urllib3", "stripe")


def configure() -> None:
    logging.basicConfig(level=logging.INFO, format=FORMAT, datefmt="%H:%M:%S",
                        stream=sys.stdout, force=True)  # fmt: skip
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(logging.WARNING)
