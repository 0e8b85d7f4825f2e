"""Custom layers: mappings the user chooses (pick, expression, code) and the Java DL4J needs."""
