"""Running a session's episodes beyond one machine.

`ray_executor` plays episode cases on a pool of Ray actors (`pytest --wam-ray`); the
pytest session stays the driver and reports each case from the result it gets back.
Nothing here imports pytest, and Ray loads only when a run asks for it.
"""
