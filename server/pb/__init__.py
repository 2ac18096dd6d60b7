"""Generated protobuf and gRPC code (`make proto` from proto/); never edited by hand."""
