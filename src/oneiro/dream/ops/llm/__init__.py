"""Tiered (T1/T2) dream operations: each an alternative to a T0 operation, never a replacement."""
