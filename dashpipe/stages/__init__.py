"""Pure stage functions: domain types in, domain types out; no Celery, no settings loading, no writes."""
