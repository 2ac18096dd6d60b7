"""The plain-Python service layer both faces (gRPC, HTTP/JSON) call: one module per resource.

No transport types here. Every public function takes a ServiceContext and, unless it is
public by nature (login, refresh, accepting an invite), the verified Principal
(server.service.tokens); it checks the policy table (server.policy) itself, so a face cannot forget
to, and raises only typed errors (errors.py, subclasses of server.error_table.ServerError).
Functions are synchronous and may block (SQLite, argon2, the engine): async faces run
them in a bounded thread pool.

    bootstrap.open_service(config, clock=) -> ServiceContext   migrate, bootstrap, recover
    config        ServiceConfig, Limits, TokenSettings, PasswordHashing, BootstrapSettings
    context       ServiceContext: config, clock, meta store, open engines, change signal
    store, migrations   meta.db (SQLite) and its versioned schema
    principal, tokens   the verified caller; logins, token verification, API keys
    orgs, accounts, roles, invites, databases, service_properties, query   the resources
    common        names, merge patch, pages {next, resources} (ids: server/ids.py)
"""
