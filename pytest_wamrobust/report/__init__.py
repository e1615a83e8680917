"""From episode results (as records/ reads them) to the report: its numbers, tables,
heatmaps and HTML page.

The `wamrobust report` and `wamrobust compare` commands that use them live in `cli/`.
Nothing heavy is imported here; each module imports what it needs when used.
"""
