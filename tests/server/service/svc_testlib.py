"""Helpers for the service-layer tests (tests/ has no __init__.py: basenames are unique)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from server.service.principal import Principal
from server.service import accounts, orgs, tokens
from server.service.bootstrap import open_service
from server.service.config import BootstrapSettings, PasswordHashing, ServiceConfig
from server.service.context import ServiceContext

# argon2id at its cheapest: the tests check behaviour, not hashing cost.
FAST_HASH = PasswordHashing(time_cost=1, memory_cost_kib=8, parallelism=1)
ROOT_EMAIL = "root@example.com"
ROOT_PASSWORD = "root-password-1"
MEMBER_PASSWORD = "member-password-1"
START = 1_800_000_000.0


class FakeClock:
    """An injectable clock the tests move by hand."""

    def __init__(self, start: float = START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_config(data_dir: Path, **overrides: Any) -> ServiceConfig:
    settings: dict[str, Any] = dict(
        passwords=FAST_HASH, fsync=False,
        bootstrap=BootstrapSettings(org_name="acme", root_email=ROOT_EMAIL, root_name="rooty",
                                    root_password=ROOT_PASSWORD))
    settings.update(overrides)
    return ServiceConfig(str(data_dir), **settings)


def start(data_dir: Path, clock: Optional[FakeClock] = None, **overrides: Any) -> ServiceContext:
    return open_service(make_config(data_dir, **overrides), clock=clock or time.time)


def login(ctx: ServiceContext, password: str, *, email: Optional[str] = None, name: Optional[str] = None,
          database: Optional[str] = None) -> Principal:
    pair = tokens.login(ctx, email=email, name=name, password=password, database=database)
    return tokens.verify_access_token(ctx, pair.token)


def root_of(ctx: ServiceContext) -> Principal:
    return login(ctx, ROOT_PASSWORD, email=ROOT_EMAIL)


_counter = [0]


def member(ctx: ServiceContext, root: Principal, role: str, *, password: str = MEMBER_PASSWORD,
           database: Optional[str] = None) -> Principal:
    """A new individual account of root's org with a built-in role, logged in."""
    _counter[0] += 1
    email = f"{role}{_counter[0]}@example.com"
    if role == "root":
        return root
    accounts.create_account(ctx, root, email=email, role=role, password=password)
    return login(ctx, password, email=email, database=database)


@dataclass
class OtherOrg:
    org_id: str
    root: Principal


def other_org(ctx: ServiceContext, *, email: str = "boss@other.example") -> OtherOrg:
    """A second org with its own root account (the server-admin path, as the CLI will)."""
    org = orgs.create_org(ctx, name="other")
    accounts.insert_account(ctx, org_id=org.id, kind=accounts.INDIVIDUAL, role="root", email=email,
                            password=ROOT_PASSWORD)
    return OtherOrg(org.id, login(ctx, ROOT_PASSWORD, email=email))
