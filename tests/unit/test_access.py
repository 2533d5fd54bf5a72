from __future__ import annotations

import pytest

from callpay.domain.access import Clinician, Patient, acts_for_clinic, check_call
from callpay.domain.errors import Forbidden
from callpay.principals import clinic_ids_of, clinician_of


def clinician(role: str = "team_member", clinics: tuple[str, ...] = ("c1",)) -> Clinician:
    return Clinician(sub="u", org_id="org-1", role=role, clinic_ids=frozenset(clinics))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("role", "clinic", "clinic_org", "allowed"),
    [
        ("team_member", "c1", "org-1", True),
        ("team_member", "c2", "org-1", False),
        ("team_admin", "c2", "org-1", False),
        ("org_admin", "c2", "org-1", True),  # any clinic of their organisation
        ("org_admin", "c2", "org-2", False),  # never another organisation's
        ("team_member", "c1", "org-2", False),  # a claim naming another org's clinic
    ],
)
def test_who_acts_for_a_clinic(role: str, clinic: str, clinic_org: str, allowed: bool) -> None:
    assert acts_for_clinic(clinician(role), clinic, clinic_org) is allowed


def test_patient_token_is_scoped_to_its_call() -> None:
    patient = Patient(call_id="call-1", clinic_id="c1", token_id="t")
    check_call(patient, "call-1", "c1", "org-1")
    with pytest.raises(Forbidden):
        check_call(patient, "call-2", "c1", "org-1")


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        ("c1 c2", {"c1", "c2"}),
        ("[c1 c2]", {"c1", "c2"}),
        ("c1,c2", {"c1", "c2"}),
        (["c1", "c2"], {"c1", "c2"}),
        ("", set()),
        (None, set()),
    ],
)
def test_clinic_ids_claim_forms(claim: object, expected: set[str]) -> None:
    assert clinic_ids_of(claim) == expected


def test_unknown_role_is_forbidden() -> None:
    with pytest.raises(Forbidden):
        clinician_of({"sub": "u", "org_id": "o", "role": "patient", "clinic_ids": "c1"})
