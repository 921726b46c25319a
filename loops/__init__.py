"""hilt.loops"""
