"""PactNews."""
