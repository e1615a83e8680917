"""Running an episode: play one case against a policy, under a deadline, with batched inference."""
