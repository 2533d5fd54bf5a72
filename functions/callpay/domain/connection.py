"""An open WebSocket of a call: who is listening for that call's payment updates."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

# API Gateway closes every WebSocket after two hours, so a record outliving that is stale.
CONNECTION_LIFETIME = timedelta(hours=2)

Audience = Literal["clinician", "patient"]


class Connection(BaseModel):
    model_config = ConfigDict(frozen=True)

    connection_id: str
    call_id: str
    audience: Audience
    subject: str
    connected_at: datetime
    # A pay-later link's socket hears of its one request only.
    payment_request_id: str | None = None

    def hears_of(self, payment_request_id: str) -> bool:
        return self.payment_request_id in {None, payment_request_id}

    @property
    def expires_at(self) -> datetime:
        return self.connected_at + CONNECTION_LIFETIME
