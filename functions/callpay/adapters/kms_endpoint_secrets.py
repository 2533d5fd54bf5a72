"""Endpoint signing secrets sealed with a KMS key of their own.

Standard Webhooks signs with the secret itself (HMAC), so it must be recoverable: it is
stored encrypted under a dedicated key, bound to its organisation and endpoint by the
encryption context. The platform function may only Encrypt with the key and the delivery
function only Decrypt, so reading the table (or a backup of it) never reveals a secret.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from functools import lru_cache
from typing import Any


class KmsEndpointSecrets:
    def __init__(self, client: Callable[[], Any], key_id: str) -> None:
        self._client = client
        self._key_id = key_id
        # Decrypted secrets are kept for the life of the execution environment.
        self.open = lru_cache(maxsize=256)(self._open)  # type: ignore[method-assign]

    def seal(self, secret: str, org_id: str, endpoint_id: str) -> str:
        sealed = self._client().encrypt(
            KeyId=self._key_id,
            Plaintext=secret.encode(),
            EncryptionContext={"org_id": org_id, "endpoint_id": endpoint_id},
        )["CiphertextBlob"]
        return base64.b64encode(sealed).decode()

    def open(self, ciphertext: str, org_id: str, endpoint_id: str) -> str:
        return self._open(ciphertext, org_id, endpoint_id)

    def _open(self, ciphertext: str, org_id: str, endpoint_id: str) -> str:
        plain: bytes = self._client().decrypt(
            KeyId=self._key_id,
            CiphertextBlob=base64.b64decode(ciphertext),
            EncryptionContext={"org_id": org_id, "endpoint_id": endpoint_id},
        )["Plaintext"]
        return plain.decode()
