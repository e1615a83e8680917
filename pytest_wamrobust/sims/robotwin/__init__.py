"""The `robotwin_plus` suite: a RoboTwin 2.0-Plus-style dual-arm scene on SAPIEN.

`arm` (kinematics) and `robot` (articulations) make two 5-DoF arms from primitives;
`tasks` holds layouts and success predicates; `scene` the table, lights, cameras and
scene-side axes; `env` the Env; `suite` the case grid; `oracle` the scripted bimanual
policy; `vulkan` finds a renderer on CPU machines. Only `env` imports SAPIEN, and only
inside the process that runs an episode.
"""
