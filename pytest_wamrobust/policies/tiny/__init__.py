"""`tiny-vla` and `tiny-wam`: two small learned policies trained here, shipped as weights.

They exist so a first run shows a learned policy degrading under perturbations, and
the study's comparison in miniature: a VLA maps the current observation to an action
chunk; a world action model first imagines the future frame (iterative denoising),
then acts conditioned on it. Importing this package imports no torch.
"""
