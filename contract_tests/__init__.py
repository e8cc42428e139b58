"""memmock's conformance harness: point it at a server and it tells you where it breaks the contract."""
