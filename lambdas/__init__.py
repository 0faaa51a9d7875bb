"""Lambda handlers of the jobs API and its events (Powertools for AWS Lambda)."""
