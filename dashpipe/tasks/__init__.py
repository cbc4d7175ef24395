"""The only package that imports Celery: the app, its routes, the thin task wrappers, the chain."""
