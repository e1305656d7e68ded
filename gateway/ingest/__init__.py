"""Parse and load: stored raw bytes → parser events → rows, one transaction per file."""
