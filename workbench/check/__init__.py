"""Checks against the real runtimes (DL4J on the JVM)."""
