"""The trainer's console without its windows: what it lists, edits, publishes and plays
(the Qt views are in agentapp/ui/console/)."""
