"""hilt.gui"""
