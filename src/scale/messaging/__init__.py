"""Command messages and their transport. No business logic: handlers live in ``services``."""
