"""The offline demo and what it plays with: Stripe-shaped events signed like Stripe signs them."""
