"""Thin handlers, one module per resource family, named by the spec's operationIds."""
