"""Demo data (three Synthea patients) and the seeder `make up` runs on first start."""
