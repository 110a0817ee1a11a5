"""Operators' tools: register clients from the command line, delete expired token rows."""
