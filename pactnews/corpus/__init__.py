"""The corpus: raw articles and their metadata in, clean texts with exact offset maps out."""
