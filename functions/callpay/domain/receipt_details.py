"""A clinic's receipt details: what insurers and tax offices need to see on a receipt.

The one definition of them: the stored clinic, the settings API (in and out), the details
a settings update may clear and the receipt itself all take these fields from here.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

Detail = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None


class ReceiptDetails(BaseModel):
    """Anything unset is left off the receipt."""

    model_config = ConfigDict(frozen=True)

    legal_name: Detail = None
    # Several lines, as the clinic typed them.
    address: Detail = None
    tax_id: Detail = None
    # What the tax id is called where the clinic is ("ABN", "SIRET"): a proper name, not
    # translated. Without it the receipt uses the translated generic "Tax ID".
    tax_id_label: Detail = None
    provider_name: Detail = None
    provider_number: Detail = None
    tax_statement: Detail = None


RECEIPT_DETAILS: tuple[str, ...] = tuple(ReceiptDetails.model_fields)
