"""The platform's webhook endpoints: register (the secret shown once), list, remove, and
replay an endpoint's failed deliveries. For the organisation's admins and its backend."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from callpay.domain.access import (
    WEBHOOK_ENDPOINTS_WRITE,
    Clinician,
    PlatformBackend,
    PlatformCaller,
    require_scope,
)
from callpay.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from callpay.domain.platform_events import EVENT_TYPES
from callpay.domain.webhook_endpoint import (
    MAX_ENDPOINTS_PER_ORG,
    WebhookEndpoint,
    check_endpoint_url,
    new_secret,
)
from callpay.ports import DeliveryQueue, EndpointSecrets, EndpointStore


def check_org(caller: PlatformCaller, org_id: str) -> None:
    """The organisation's own admins, or its backend with the endpoints scope."""
    if caller.org_id != org_id:
        raise Forbidden("not_your_organisation", "This is another organisation's.")
    if isinstance(caller, PlatformBackend):
        require_scope(caller, WEBHOOK_ENDPOINTS_WRITE)
    elif isinstance(caller, Clinician) and caller.role != "org_admin":
        raise Forbidden("org_admin_only", "Only an organisation admin manages endpoints.")


@dataclass
class WebhookEndpoints:
    endpoints: EndpointStore
    secrets: EndpointSecrets
    queue: DeliveryQueue
    clock: Callable[[], datetime]
    allow_loopback: bool = False
    new_id: Callable[[], str] = lambda: f"we_{uuid.uuid4().hex}"

    def register(
        self, caller: PlatformCaller, org_id: str, url: str, description: str | None,
        event_types: list[str],
    ) -> tuple[WebhookEndpoint, str]:  # fmt: skip
        """The new endpoint and its signing secret (returned this once, never again)."""
        check_org(caller, org_id)
        unknown = sorted(set(event_types) - set(EVENT_TYPES))
        if unknown:
            raise InvalidInput("unknown_event_type", f"Unknown event types: {', '.join(unknown)}.")
        check_endpoint_url(url, self.allow_loopback)
        if len(self.endpoints.endpoints_of(org_id)) >= MAX_ENDPOINTS_PER_ORG:
            raise Conflict(
                "too_many_endpoints", f"An organisation has at most {MAX_ENDPOINTS_PER_ORG}."
            )
        endpoint_id, secret = self.new_id(), new_secret()
        endpoint = WebhookEndpoint(
            id=endpoint_id, org_id=org_id, url=url, description=description,
            event_types=tuple(sorted(set(event_types))), created_at=self.clock(),
            created_by=caller.sub, secret_ciphertext=self.secrets.seal(secret, org_id, endpoint_id),
        )  # fmt: skip
        self.endpoints.add_endpoint(endpoint)
        return endpoint, secret

    def list(self, caller: PlatformCaller, org_id: str) -> list[WebhookEndpoint]:
        check_org(caller, org_id)
        return self.endpoints.endpoints_of(org_id)

    def remove(self, caller: PlatformCaller, org_id: str, endpoint_id: str) -> None:
        """Nothing more is sent to it, including deliveries still waiting."""
        check_org(caller, org_id)
        if not self.endpoints.remove_endpoint(org_id, endpoint_id):
            raise NotFound("endpoint_not_found", "No such webhook endpoint.")

    def replay(self, caller: PlatformCaller, org_id: str, endpoint_id: str) -> int:
        """Send the endpoint's failed deliveries again, oldest first; how many."""
        check_org(caller, org_id)
        if self.endpoints.get_endpoint(org_id, endpoint_id) is None:
            raise NotFound("endpoint_not_found", "No such webhook endpoint.")
        failed = self.endpoints.failed_deliveries(endpoint_id)
        for delivery in failed:
            again = delivery.model_copy(
                update={"status": "pending", "attempts": 0, "replays": delivery.replays + 1}
            )
            # The record first: the delivery function sends only what is not delivered.
            self.endpoints.save_delivery(again)
            self.queue.send(again)
        return len(failed)
