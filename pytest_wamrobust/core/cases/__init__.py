"""Case generation: the seven axes and their parameter spaces, suite manifests, the seeds of a
case, and the subsets a shard plays."""
