"""The verified caller of a request, as the policy and every service function see it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Principal:
    """A verified caller. Built only by server.service.tokens from a verified token or API key.

    acl: ACL grants beyond the built-in role (custom roles and the account's own acl).
    database_id: the database the token is scoped to (CM logins, scoped API keys).
    """

    account_id: str
    org_id: str
    role: str
    database_id: Optional[str] = None
    acl: frozenset[str] = frozenset()
    token_id: str = ""
    via: str = "token"
    end_user: Optional[str] = None     # CM frontend logins: the end user (its canonical id) and
    session: Optional[str] = None      # anonymous session the token acts for
