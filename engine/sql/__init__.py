"""SQL: a FeatureBase-style subset, parsed with Lark and lowered into the same plan as PQL."""
