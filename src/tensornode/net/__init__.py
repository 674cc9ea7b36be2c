"""Network helpers: fetching user-given URLs safely."""
