"""A fully offline LIBERO-style tabletop on MuJoCo: a Panda, a table, eight tasks."""
