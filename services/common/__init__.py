"""Code that two or more services use the same way (docs/architecture.md, "Layers")."""
