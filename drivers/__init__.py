"""hilt.drivers"""
