"""The partners, one package each with the same shape: `tiktok_shop`, `sfcc`,
`sync_order_info`, `events_api`. A partner imports neither the store nor the services."""
