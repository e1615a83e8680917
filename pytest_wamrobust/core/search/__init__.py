"""The breaking-point search and the replay of the failures it kept."""
