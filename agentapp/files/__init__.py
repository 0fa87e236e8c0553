"""Where things are on disk: the data folder's layout, the platform's folders, the checks that
a data folder is the user's alone, and the agent's log."""
