"""Every gRPC method of the roarbase.v1 services, read from the generated descriptors.

The policy table (server/policy.py) must have a row for each name `all_methods()` returns:
a method without one is refused (default deny, SECURITY.md §2), and a test enumerates them.
Names are the paths gRPC puts on the wire, "/roarbase.v1.QueryService/Sql", which is also
what a server interceptor sees as `handler_call_details.method`.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

import server.pb.roarbase.v1 as _v1


def _pb2_modules() -> list[ModuleType]:
    """The generated *_pb2 modules of roarbase.v1, by module name."""
    names = sorted(info.name for info in pkgutil.iter_modules(_v1.__path__) if info.name.endswith("_pb2"))
    return [importlib.import_module(f"{_v1.__name__}.{name}") for name in names]


def services() -> tuple[ServiceDescriptor, ...]:
    """The service descriptors, by file name and then in declaration order."""
    return tuple(svc for mod in _pb2_modules() for svc in mod.DESCRIPTOR.services_by_name.values())


def method_path(method: MethodDescriptor) -> str:
    """The wire name of a method: "/<package>.<Service>/<Method>"."""
    return f"/{method.containing_service.full_name}/{method.name}"


def method_descriptors() -> dict[str, MethodDescriptor]:
    """Every method's descriptor keyed by its wire name (for streaming flags and types).

    Returns:
        {"/roarbase.v1.QueryService/Sql": <MethodDescriptor>, ...}, in `services()` order.
    """
    return {method_path(m): m for svc in services() for m in svc.methods}


def all_methods() -> tuple[str, ...]:
    """Every method's wire name, e.g. "/roarbase.v1.AuthService/Login"."""
    return tuple(method_descriptors())
