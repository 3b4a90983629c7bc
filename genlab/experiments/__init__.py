"""Experiments that train several runs and compare a measurement across them (not used by the app)."""
