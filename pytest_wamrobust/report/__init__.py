"""The `wamrobust report` and `wamrobust compare` commands: merged JUnit in, tables out.

Nothing heavy is imported here; each command module imports what it needs when run.
"""
