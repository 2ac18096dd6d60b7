"""orgs: read one's own org, update it (RFC 7396 metadata merge), other orgs are not found."""
import pytest

from server.service import orgs
from server.service.errors import InvalidParameter, MissingParameter, ResourceNotFound
from svc_testlib import member, other_org


def test_get_own_org(svc, root):
    org = orgs.get_org(svc, root, root.org_id)
    assert org.name == "acme" and org.id == root.org_id and org.org_type == "standard"
    assert orgs.get_current_org(svc, root) == org
    d = org.to_dict()
    assert "tech_contact_emali" in d and "billing_contact_emali" in d  # FB's spelling, kept
    assert d["created_at"].endswith("Z")


def test_every_role_reads_its_org(svc, root):
    for role in ("manager", "backend", "frontend"):
        assert orgs.get_org(svc, member(svc, root, role), root.org_id).id == root.org_id


def test_another_orgs_id_is_not_found(svc, root):
    other = other_org(svc)
    for ref in (other.org_id, "00000000-0000-4000-8000-000000000000", "garbage"):
        with pytest.raises(ResourceNotFound) as e:
            orgs.get_org(svc, root, ref)
        assert e.value.code == "ResourceNotFound"
    with pytest.raises(ResourceNotFound):
        orgs.update_org(svc, root, other.org_id, name="pwned")
    assert orgs.get_org(svc, other.root, other.org_id).name == "other"


def test_update_fields_and_audit(svc, root, clock):
    clock.advance(10)
    org = orgs.update_org(svc, root, root.org_id, name="Acme Inc", company_name="Acme", address="1 Main St",
                          tech_contact_email="tech@acme.io", billing_contact_email="")
    assert (org.name, org.company_name, org.address, org.tech_contact_email) == (
        "Acme Inc", "Acme", "1 Main St", "tech@acme.io")
    assert org.updated_by == root.account_id and org.updated_at == clock.now > org.created_at


def test_metadata_merge_patch_and_replace(svc, root):
    orgs.update_org(svc, root, root.org_id, metadata={"a": 1, "b": {"c": 2, "d": 3}})
    org = orgs.update_org(svc, root, root.org_id, metadata={"b": {"c": None, "e": 4}, "f": [1]})
    assert org.metadata == {"a": 1, "b": {"d": 3, "e": 4}, "f": [1]}
    org = orgs.update_org(svc, root, root.org_id, metadata={"z": True}, preserve=False)
    assert org.metadata == {"z": True}


def test_update_validation(svc, root):
    with pytest.raises(InvalidParameter):
        orgs.update_org(svc, root, root.org_id, name="  ")
    with pytest.raises(InvalidParameter):
        orgs.update_org(svc, root, root.org_id, tech_contact_email="not-an-email")
    with pytest.raises(InvalidParameter):
        orgs.update_org(svc, root, root.org_id, metadata=[1, 2])
    with pytest.raises(InvalidParameter):
        orgs.update_org(svc, root, root.org_id, address=7)
    with pytest.raises(InvalidParameter):
        orgs.update_org(svc, root, root.org_id, metadata={"x": float("nan")})


def test_create_org_seeds_builtin_roles(svc):
    org = orgs.create_org(svc, name="new", company_name="N")
    names = [r["name"] for r in svc.store.all("SELECT name FROM roles WHERE org_id = ? ORDER BY name", (org.id,))]
    assert names == ["backend", "frontend", "manager", "root"]
    with pytest.raises(MissingParameter):
        orgs.create_org(svc, name="")
    with pytest.raises(InvalidParameter):
        orgs.create_org(svc, name="x", org_type="mega")
