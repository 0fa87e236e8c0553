"""The site hub on PostgreSQL: quota, trail and recordings across desks (docs/hub.md)."""
