"""Generated code for the proto package roarbase.v1 (`make proto` from proto/roarbase/v1/)."""
