"""PQL: grammar (pql.lark) → syntax tree (ast.py) → plan (lower.py → engine.plan)."""
from engine.pql.parser import parse

__all__ = ["parse"]
