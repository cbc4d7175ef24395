"""Plate text: crops, reading help, formats, multi-frame tracking and voting, watchlist matching."""
