"""State and rules of each resource family, one module per family; no HTTP in here."""
