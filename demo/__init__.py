"""Demo data and the demo seeder."""
