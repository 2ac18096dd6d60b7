"""tests/server: the server layer (wire contract, error table, later services and faces).

tests/ has no __init__.py, so module basenames must be unique across the tests tree.
"""
