"""Starting the service on a data dir: migrate meta.db, make the signing secret, bootstrap
the first org and its root account on an empty dir, finish half-done database steps."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from server import auth, policy
from server.service import accounts, databases, orgs, secretbox, sources, tasks
from server.service.config import ServiceConfig
from server.service.context import Clock, ServiceContext


@dataclass(frozen=True)
class BootstrapResult:
    """What the first start created. `password` is set only when it was generated: the
    CLI prints it once; it is stored nowhere in clear (and kept out of repr, so logs that
    print the result do not leak it)."""

    org_id: str
    account_id: str
    email: str
    name: str
    password: Optional[str] = field(default=None, repr=False)

    @property
    def generated(self) -> bool:
        return self.password is not None


def bootstrap(ctx: ServiceContext) -> Optional[BootstrapResult]:
    """On a store without orgs: one org and its root account, with the configured
    credentials, or a generated password. Returns None when orgs exist already.

    Raises InvalidParameter when the configured root email/name/password is unacceptable.
    """
    if ctx.store.one("SELECT 1 FROM orgs LIMIT 1") is not None:
        return None
    cfg = ctx.config.bootstrap
    password = cfg.root_password if cfg.root_password is not None else secrets.token_urlsafe(18)
    password_hash = auth.hash_password(ctx, password)
    with ctx.store.transaction() as st:
        if st.one("SELECT 1 FROM orgs LIMIT 1") is not None:
            return None
        org = orgs.create_org(ctx, name=cfg.org_name)
        account_id = accounts.insert_account(ctx, org_id=org.id, kind=accounts.INDIVIDUAL, role=policy.ROOT,
                                             email=cfg.root_email, name=cfg.root_name or None,
                                             password_hash=password_hash)
    return BootstrapResult(org.id, account_id, cfg.root_email, cfg.root_name,
                           password if cfg.root_password is None else None)


def open_service(config: ServiceConfig, *, clock: Clock = time.time, fileio: Optional[Any] = None) -> ServiceContext:
    """A ready ServiceContext on config.data_dir (created if missing).

    ctx.bootstrap is the BootstrapResult of a first start (None afterwards). Close the
    context (or use it as a context manager) to close engines and release the dir.

    Raises ServiceUnavailable when another server holds the dir, IncorrectState when
    meta.db is newer than this server. `fileio` replaces the engines' file layer (the
    fault-injection tests' FaultIO).
    """
    ctx = ServiceContext(config, clock=clock, fileio=fileio)
    try:
        ctx.store.migrate()
        auth.ensure_signing_key(ctx)
        ctx.bootstrap = bootstrap(ctx)
        databases.recover(ctx)
        tasks.recover(ctx)
        sources.recover(ctx)
        secretbox.box(ctx)              # the connections key file exists from the first start
    except BaseException:
        ctx.close()
        raise
    return ctx
