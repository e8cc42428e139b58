"""The contract (OpenAPI specs, harness latitude): the data-only package memmock_spec, read by mock and harness."""
