"""Dreaming: the cycle (the only writer), its budget, its phases and their pure operations."""
