"""The web app: Stripe webhook inbox, dispatch, reconcile."""
