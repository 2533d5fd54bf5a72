"""moto's server (DynamoDB, SQS, SES, Secrets Manager...) for the local stack.

The same server as moto's own `moto_server` command, but it ends with its parent, so a
stack that is killed outright leaves no AWS stand-in behind on its port.
Usage: python -m devtools.moto_server --host 127.0.0.1 --port 8440
"""

from __future__ import annotations

import sys

from moto.server import main

from devtools.processes import exit_with_parent

if __name__ == "__main__":
    exit_with_parent()
    main(sys.argv[1:])
