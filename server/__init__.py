"""roarbase server: gRPC and HTTP faces, auth and the org/database model over the engine."""
