"""Portal accounts and caregivers: activation, invites, password checks and the sign-in throttle."""
