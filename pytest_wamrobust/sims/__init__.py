"""Simulator backends behind the Env/Suite protocols."""
