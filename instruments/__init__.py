"""hilt.instruments"""
