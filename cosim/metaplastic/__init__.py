"""Metaplastic quantised networks on multi-level memristors (D'Agostino et al., AICAS 2023)."""
