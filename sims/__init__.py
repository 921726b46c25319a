"""hilt.sims"""
