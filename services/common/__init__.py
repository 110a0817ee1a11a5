"""Code that two or more services use the same way (DESIGN section 7)."""
