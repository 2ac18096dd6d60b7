"""roles: built-ins pre-created and immutable, custom roles with ACL lists, grants reach the
principal, org isolation."""
import pytest

from server import policy
from server.service import accounts, roles
from server.service.errors import InvalidParameter, MissingParameter, ResourceAlreadyExists, ResourceNotFound
from svc_testlib import MEMBER_PASSWORD, login, other_org


def test_builtins_are_listed_with_their_acls(svc, root):
    page = roles.list_roles(svc, root)
    got = {r.rolename: r for r in page.resources}
    assert set(got) == set(policy.BUILTIN_ROLES) and page.next == ""
    for name, role in got.items():
        assert role.builtin and set(role.acl) == policy.BUILTIN_ACLS[name]
    assert roles.get_role(svc, root, "frontend").to_dict()["acl"] == ["org:read", "query:execute"]


@pytest.mark.parametrize("name", policy.BUILTIN_ROLES)
def test_builtins_are_immutable(svc, root, name):
    with pytest.raises(InvalidParameter) as e:
        roles.update_role(svc, root, name, ["org:read"])
    assert e.value.name == "BUILTIN_ROLE_IMMUTABLE"
    with pytest.raises(InvalidParameter):
        roles.delete_role(svc, root, name)
    with pytest.raises(ResourceAlreadyExists):
        roles.create_role(svc, root, name, [])


def test_custom_role_lifecycle(svc, root, clock):
    role = roles.create_role(svc, root, "auditor", ["users:read", "databases:read", "users:read"])
    assert role.acl == ("users:read", "databases:read") and not role.builtin
    assert role.updated_by == root.account_id
    with pytest.raises(ResourceAlreadyExists) as e:
        roles.create_role(svc, root, "auditor", [])
    assert e.value.name == "DUPLICATED_ROLE"
    clock.advance(5)
    role = roles.update_role(svc, root, "auditor", ["org:write"])
    assert role.acl == ("org:write",) and role.updated_at == clock.now
    roles.delete_role(svc, root, "auditor")
    with pytest.raises(ResourceNotFound):
        roles.get_role(svc, root, "auditor")
    with pytest.raises(ResourceNotFound):
        roles.delete_role(svc, root, "auditor")
    with pytest.raises(ResourceNotFound):
        roles.update_role(svc, root, "auditor", [])


def test_validation(svc, root):
    with pytest.raises(InvalidParameter) as e:
        roles.create_role(svc, root, "x", ["databases:destroy"])
    assert e.value.name == "UNKNOWN_ACL"
    with pytest.raises(InvalidParameter):
        roles.create_role(svc, root, "x", "users:read")  # a string is not a list
    with pytest.raises(InvalidParameter):
        roles.create_role(svc, root, "bad name!", [])
    with pytest.raises(InvalidParameter):
        roles.create_role(svc, root, "current", [])  # reserved
    with pytest.raises(MissingParameter):
        roles.create_role(svc, root, "", [])


def test_custom_role_grants_reach_the_principal_and_go_with_the_role(svc, root):
    acc = accounts.create_account(svc, root, email="aud@x.io", role="backend", password=MEMBER_PASSWORD)
    roles.create_role(svc, root, "auditor", ["users:read"])
    accounts.add_account_roles(svc, root, acc.id, ["auditor"])
    p = login(svc, MEMBER_PASSWORD, email="aud@x.io")
    assert p.acl == {"users:read"}
    assert len(accounts.list_accounts(svc, p).resources) == 2  # granted by the custom role
    assert "users:read" in accounts.get_account(svc, root, acc.id).effective_acl
    roles.delete_role(svc, root, "auditor")
    assert accounts.get_account(svc, root, acc.id).custom_roles == ()
    p = login(svc, MEMBER_PASSWORD, email="aud@x.io")
    assert p.acl == frozenset()


def test_roles_are_per_org(svc, root):
    roles.create_role(svc, root, "auditor", ["users:read"])
    other = other_org(svc)
    with pytest.raises(ResourceNotFound):
        roles.get_role(svc, other.root, "auditor")
    roles.create_role(svc, other.root, "auditor", ["org:read"])  # same name, other org
    assert roles.get_role(svc, root, "auditor").acl == ("users:read",)
    assert len(roles.list_roles(svc, other.root).resources) == 5


def test_list_pages(svc, root):
    for i in range(5):
        roles.create_role(svc, root, f"r{i}", [])
    page = roles.list_roles(svc, root, limit=4)
    seen = [r.rolename for r in page.resources]
    while page.next:
        page = roles.list_roles(svc, root, limit=4, next_token=page.next)
        seen += [r.rolename for r in page.resources]
    assert len(seen) == 9 == len(set(seen))
