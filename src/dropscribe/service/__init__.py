"""Running as a service: logs, metrics, notifications to systemd, hooks."""
