"""Measurement: agreement between passes and the scorer for systems."""
