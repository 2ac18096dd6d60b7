"""Generated code for the proto package roarbase (`make proto`)."""
