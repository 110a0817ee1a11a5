"""The authorization server: OAuth 2.0 and SMART endpoints, clients, signing key, tokens, revocations."""
