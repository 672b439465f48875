"""The gateway: the edge in front of the controllers (web actions, realtime, dashboard)."""
