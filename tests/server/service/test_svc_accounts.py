"""accounts: create/get/list/update/delete members, role changes, the FB self-escalation
rules, the single org owner, org isolation."""
import pytest

from server.service import accounts, roles, tokens
from server.service.errors import (
    Forbidden,
    InvalidParameter,
    MissingParameter,
    RelatedResourceNotFound,
    ResourceAlreadyExists,
    ResourceNotFound,
    Unauthorized,
)
from svc_testlib import MEMBER_PASSWORD, ROOT_EMAIL, login, member, other_org


def test_create_and_read(svc, root, clock):
    acc = accounts.create_account(svc, root, email="Ann@x.io", firstname="Ann", lastname="Lee", role="manager",
                                  password=MEMBER_PASSWORD)
    assert (acc.kind, acc.role, acc.status, acc.org_name, acc.has_password) == (
        "individual", "manager", "Active", "acme", True)
    assert acc.created_at == clock.now and acc.updated_by == root.account_id
    d = acc.to_dict()
    assert d["username"] == d["primary_email"] == "Ann@x.io" and d["roles"] == ["manager"]
    assert "users:admin" in d["acl"] and "roles:admin" not in d["acl"]
    assert "password" not in str(d) and "argon2" not in str(d)
    assert accounts.get_account(svc, root, acc.id) == acc
    me = login(svc, MEMBER_PASSWORD, email="ann@x.io")
    assert accounts.get_current_account(svc, me).id == acc.id


def test_service_accounts(svc, root):
    bot = accounts.create_account(svc, root, kind="service", name="etl-bot", role="backend")
    assert bot.email is None and bot.to_dict()["username"] == "etl-bot" and not bot.has_password
    with pytest.raises(MissingParameter):
        accounts.create_account(svc, root, kind="service", role="backend")
    with pytest.raises(InvalidParameter):
        accounts.create_account(svc, root, kind="robot", name="x")


def test_create_errors(svc, root):
    accounts.create_account(svc, root, email="dup@x.io", name="dupe")
    with pytest.raises(ResourceAlreadyExists) as e:
        accounts.create_account(svc, root, email="DUP@x.io")
    assert e.value.name == "DUPLICATED_EMAIL"
    with pytest.raises(ResourceAlreadyExists) as e:
        accounts.create_account(svc, root, email="other@x.io", name="DUPE")
    assert e.value.name == "DUPLICATED_NAME"
    with pytest.raises(InvalidParameter) as e:
        accounts.create_account(svc, root, email="r2@x.io", role="root")
    assert e.value.name == "ROOT_IS_UNIQUE"
    with pytest.raises(InvalidParameter):
        accounts.create_account(svc, root, email="r3@x.io", role="superuser")
    with pytest.raises(MissingParameter):
        accounts.create_account(svc, root)
    with pytest.raises(InvalidParameter):
        accounts.create_account(svc, root, email="no-at-sign")
    with pytest.raises(InvalidParameter):
        accounts.create_account(svc, root, email="p@x.io", password="short")
    with pytest.raises(InvalidParameter):
        accounts.create_account(svc, root, email="n@x.io", name="bad name")
    with pytest.raises(InvalidParameter):
        accounts.create_account(svc, root, email="a@x.io", acl=["nope"])
    manager = member(svc, root, "manager")
    with pytest.raises(Forbidden):
        accounts.create_account(svc, manager, email="g@x.io", acl=["users:read"])  # only the owner grants
    assert accounts.create_account(svc, root, email="g@x.io", acl=["users:read"]).acl == ("users:read",)


def test_emails_are_unique_server_wide(svc, root):
    other = other_org(svc)
    accounts.create_account(svc, root, email="same@x.io")
    with pytest.raises(ResourceAlreadyExists):
        accounts.create_account(svc, other.root, email="same@x.io")


def test_list_pages_in_creation_order(svc, root, clock):
    ids = [root.account_id]
    for i in range(6):
        clock.advance(1)
        ids.append(accounts.create_account(svc, root, email=f"u{i}@x.io").id)
    page = accounts.list_accounts(svc, root, limit=4)
    assert [a.id for a in page.resources] == ids[:4] and page.next
    page2 = accounts.list_accounts(svc, root, limit=4, next_token=page.next)
    assert [a.id for a in page2.resources] == ids[4:] and page2.next == ""
    assert len(accounts.list_accounts(svc, root, limit=1000).resources) == 7  # capped, not refused
    with pytest.raises(InvalidParameter):
        accounts.list_accounts(svc, root, limit=0)
    with pytest.raises(InvalidParameter):
        accounts.list_accounts(svc, root, next_token="%%%")


def test_other_orgs_accounts_are_not_found(svc, root):
    other = other_org(svc)
    acc = accounts.create_account(svc, root, email="mine@x.io")
    for call in (lambda: accounts.get_account(svc, other.root, acc.id),
                 lambda: accounts.update_account(svc, other.root, acc.id, firstname="x"),
                 lambda: accounts.delete_account(svc, other.root, acc.id),
                 lambda: accounts.add_account_roles(svc, other.root, acc.id, ["manager"])):
        with pytest.raises(ResourceNotFound):
            call()
    assert [a.email for a in accounts.list_accounts(svc, other.root).resources] == ["boss@other.example"]
    with pytest.raises(ResourceNotFound):
        accounts.get_account(svc, root, "not-an-id")


def test_self_service_updates(svc, root):
    me = member(svc, root, "backend")
    acc = accounts.update_account(svc, me, me.account_id, firstname="Bo", lastname="Bb", name="bo",
                                  password="a-new-password")
    assert (acc.firstname, acc.lastname, acc.name) == ("Bo", "Bb", "bo")
    login(svc, "a-new-password", name="bo")
    for change in ({"acl": ["users:admin"]}, {"status": "Deactivated"}):
        with pytest.raises(InvalidParameter) as e:
            accounts.update_account(svc, me, me.account_id, **change)
        assert e.value.name == "SELF_ESCALATION"
    with pytest.raises(InvalidParameter):
        accounts.update_account(svc, root, root.account_id, status="Deactivated")  # the owner neither


def test_updating_others(svc, root):
    backend = member(svc, root, "backend")
    manager = member(svc, root, "manager")
    target = accounts.create_account(svc, root, email="t@x.io", role="frontend")
    with pytest.raises(Forbidden):
        accounts.update_account(svc, backend, target.id, firstname="x")  # backend: only itself
    assert accounts.update_account(svc, manager, target.id, lastname="Z").lastname == "Z"
    with pytest.raises(Forbidden):
        accounts.update_account(svc, manager, target.id, acl=["users:read"])  # only the owner
    with pytest.raises(Forbidden):
        accounts.update_account(svc, manager, target.id, status="Deactivated")
    with pytest.raises(Forbidden):
        accounts.update_account(svc, manager, root.account_id, firstname="Owner")  # the owner's own record
    acc = accounts.update_account(svc, root, target.id, acl=["users:read"], status="Deactivated")
    assert acc.acl == ("users:read",) and acc.status == "Deactivated"
    with pytest.raises(InvalidParameter):
        accounts.update_account(svc, root, target.id, status="Sleeping")
    with pytest.raises(ResourceAlreadyExists):
        accounts.update_account(svc, manager, target.id, email=ROOT_EMAIL)
    with pytest.raises(InvalidParameter):
        accounts.update_account(svc, manager, target.id, email=None)


def test_delete_account(svc, root):
    manager = member(svc, root, "manager")
    victim = accounts.create_account(svc, root, email="v@x.io", password=MEMBER_PASSWORD)
    pair = tokens.login(svc, email="v@x.io", password=MEMBER_PASSWORD)
    accounts.delete_account(svc, manager, victim.id)
    with pytest.raises(ResourceNotFound):
        accounts.get_account(svc, root, victim.id)
    with pytest.raises(Unauthorized):
        tokens.verify_access_token(svc, pair.token)
    with pytest.raises(Unauthorized):
        tokens.refresh(svc, pair.refresh_token)
    with pytest.raises(InvalidParameter) as e:
        accounts.delete_account(svc, manager, root.account_id)
    assert e.value.name == "ROOT_IS_UNIQUE"
    with pytest.raises(InvalidParameter) as e:
        accounts.delete_account(svc, manager, manager.account_id)
    assert e.value.name == "SELF_DELETE"


def test_add_roles(svc, root):
    target = accounts.create_account(svc, root, email="t@x.io", role="frontend")
    roles.create_role(svc, root, "auditor", ["users:read"])
    got = accounts.add_account_roles(svc, root, target.id, ["backend", "auditor", "auditor"])
    assert got.to_dict() == {"user_id": target.id, "org_id": root.org_id, "rolenames": ["backend", "auditor"]}
    assert accounts.get_account(svc, root, target.id).role == "backend"
    with pytest.raises(RelatedResourceNotFound):
        accounts.add_account_roles(svc, root, target.id, ["ghost"])
    with pytest.raises(InvalidParameter) as e:
        accounts.add_account_roles(svc, root, target.id, ["root"])
    assert e.value.name == "ROOT_IS_UNIQUE"
    with pytest.raises(InvalidParameter):
        accounts.add_account_roles(svc, root, root.account_id, ["manager"])  # own roles
    with pytest.raises(InvalidParameter) as e:
        accounts.add_account_roles(svc, root, target.id, ["manager", "backend"])
    assert e.value.name == "ONE_BUILTIN_ROLE"
    for bad in ([], "manager", [1]):
        with pytest.raises(InvalidParameter):
            accounts.add_account_roles(svc, root, target.id, bad)
    manager = member(svc, root, "manager")
    with pytest.raises(Forbidden):
        accounts.add_account_roles(svc, manager, target.id, ["manager"])  # the owner only


def test_nobody_creates_or_changes_an_account_above_themselves(svc, root):
    from server.service import invites
    helper = accounts.create_account(svc, root, email="helper@x.io", role="backend", password=MEMBER_PASSWORD,
                                     acl=["users:admin", "users:read", "invites:admin"])
    p = login(svc, MEMBER_PASSWORD, email="helper@x.io")
    assert p.acl == {"users:admin", "users:read", "invites:admin"} and helper.role == "backend"
    fe = accounts.create_account(svc, p, email="fe@x.io", role="frontend")
    accounts.create_account(svc, p, email="be@x.io", role="backend")
    with pytest.raises(Forbidden):
        accounts.create_account(svc, p, email="mgr@x.io", role="manager")
    with pytest.raises(Forbidden):
        invites.create_invite(svc, p, email="mgr@x.io", role="manager")
    invites.create_invite(svc, p, email="fe2@x.io", role="frontend")
    manager = accounts.create_account(svc, root, email="m@x.io", role="manager")
    with pytest.raises(Forbidden):
        accounts.update_account(svc, p, manager.id, firstname="pwned")
    with pytest.raises(Forbidden):
        accounts.update_account(svc, p, manager.id, password="takeover-password")
    with pytest.raises(Forbidden):
        accounts.delete_account(svc, p, manager.id)
    assert accounts.update_account(svc, p, fe.id, firstname="ok").firstname == "ok"
