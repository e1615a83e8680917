"""Shared test configuration: pytester runs the plugin end to end in a fresh pytest."""

pytest_plugins = ["pytester"]
