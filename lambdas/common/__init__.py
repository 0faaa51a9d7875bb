"""What every handler shares: API models, error mapping, identity, observability."""
