"""The reverse proxy: one origin for every service, with its routes table, checks, rate limits and fast path."""
