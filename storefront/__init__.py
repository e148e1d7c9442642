"""Storefront infrastructure: config, database, catalog, members, Stripe calls, outbox, app and CLI."""
