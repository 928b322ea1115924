"""Model files on disk: the registry, what a file is, the inventory."""
