"""Executors: how the server acts on nodes (launch, kill, follow, read output, probe)."""
