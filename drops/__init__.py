"""Countdown drops with limited supply (issue 4)."""
