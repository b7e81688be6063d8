"""The entry points on the top floor: the `order-lifecycle` command line and the webhook app."""
