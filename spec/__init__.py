"""The contract: OpenAPI specs and the harness latitude, shipped inside the package as mock_server.spec."""
