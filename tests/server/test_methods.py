"""server.methods walks the generated descriptors: every service and method of the contract."""
from server.methods import all_methods, method_descriptors, services

EXPECTED = {
    "AuthService": ["Login", "RefreshToken", "CreateApiKey", "RevokeApiKey", "ListApiKeys"],
    "OrgService": ["GetOrg", "UpdateOrg", "GetServiceProperty"],
    "AccountService": ["CreateAccount", "GetAccount", "GetCurrentAccount", "UpdateAccount", "ListAccounts",
                       "AddAccountRoles", "MoveAccountOrg", "DeleteAccount"],
    "RoleService": ["CreateRole", "GetRole", "ListRoles", "UpdateRole", "DeleteRole"],
    "InviteService": ["CreateInvite", "GetInvite", "ListInvites", "UpdateInvite"],
    "DatabaseService": ["CreateDatabase", "GetDatabase", "ListDatabases", "UpdateDatabase", "DeleteDatabase",
                        "WatchDatabase", "ExportDatabase", "ImportDatabase", "BackupDatabase", "RestoreDatabase",
                        "AddClusterWorker", "RemoveClusterWorker", "RebalanceCluster"],
    "QueryService": ["Sql", "Pql", "PqlStream"],
    "PropertyService": ["ListProperties", "GetProperty", "CreateProperty", "DeleteProperty"],
    "EntityService": ["GetEntity", "PutEntity", "PatchEntity", "DeleteEntity", "BulkPut", "BulkPatch", "BulkDelete",
                      "BulkWrite", "ListByIds", "ScanEntities"],
    "TaskService": ["ListTasks", "GetTask", "WatchTask"],
}

# (client streaming, server streaming) of the streaming methods; every other one is unary.
STREAMING = {
    "/roarbase.v1.DatabaseService/WatchDatabase": (False, True),
    "/roarbase.v1.DatabaseService/ExportDatabase": (False, True),
    "/roarbase.v1.DatabaseService/ImportDatabase": (True, False),
    "/roarbase.v1.DatabaseService/BackupDatabase": (False, True),
    "/roarbase.v1.DatabaseService/RestoreDatabase": (True, False),
    "/roarbase.v1.QueryService/Sql": (False, True),
    "/roarbase.v1.QueryService/PqlStream": (False, True),
    "/roarbase.v1.EntityService/BulkWrite": (True, False),
    "/roarbase.v1.EntityService/ScanEntities": (False, True),
    "/roarbase.v1.TaskService/WatchTask": (False, True),
}


def test_all_methods_lists_every_method_of_every_service() -> None:
    expected = {f"/roarbase.v1.{svc}/{m}" for svc, methods in EXPECTED.items() for m in methods}
    got = all_methods()
    assert len(got) == len(set(got)), "a method is listed twice"
    assert set(got) == expected


def test_services_are_the_contract_services() -> None:
    assert sorted(s.full_name for s in services()) == sorted(f"roarbase.v1.{name}" for name in EXPECTED)


def test_method_names_are_wire_paths() -> None:
    for name in all_methods():
        service, method = name[1:].split("/")
        assert service.startswith("roarbase.v1.") and method[0].isupper(), name


def test_streaming_flags() -> None:
    for name, desc in method_descriptors().items():
        assert (desc.client_streaming, desc.server_streaming) == STREAMING.get(name, (False, False)), name
