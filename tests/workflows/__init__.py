"""Custom-code snippets and their runner."""
